"""What the dashboard's incident, breach, notification and KPI pages read: the read models (`ticket_facts`,
`notification_outcomes`) by their indexes, and notify's outbox view for message texts.

Every query starts on an index created at start-up (reporting.store.setup): a period's facts by `reported_at` (the
other conditions in a second `$match`, as store.kpi_groups does: SecantusDB plans a filter with more fields than
one index holds as a scan), children by `parent_incident_id` or `_id`, outcomes by `ticket_id`. So a page reads the
facts *reported* in its window (1, 7 or 30 days); an incident or a breach of a ticket reported before it is not
shown (an index on `kind` / `notification_outcomes.at` would lift that; store.py is not this module's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from reporting.store import FACTS, OUTCOMES

LIMIT = 500  # documents one page reads (our choice, as the queue's QUEUE_LIMIT)
TICKET = {"_id": 1, "tier": 1, "city": 1, "teams": 1, "status": 1, "accepted_at": 1, "kind": 1, "product_family": 1,
          "parent_incident_id": 1, "reported_at": 1}  # fmt: skip
_CHILD_LINK = {"$filter": {"input": {"$ifNull": ["$log", []]}, "as": "e",
                           "cond": {"$eq": ["$$e.link", "incident_child"]}}}  # fmt: skip
_OPENED = {"$filter": {"input": {"$ifNull": ["$log", []]}, "as": "e",
                       "cond": {"$eq": ["$$e.type", "IncidentOpened"]}}}  # fmt: skip


async def _aggregate(db: AsyncDatabase, collection: str, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc async for doc in await db[collection].aggregate(pipeline)]


async def incidents(db: AsyncDatabase, since: datetime) -> list[dict[str, Any]]:
    """Incidents reported since `since`, each with its reason and how many reports were linked into it."""
    return await _aggregate(db, FACTS, [
        {"$match": {"reported_at": {"$gte": since}}},
        {"$match": {"kind": "incident"}},
        {"$sort": {"reported_at": -1}},
        {"$limit": LIMIT},
        {"$project": {**TICKET, "category": 1, "severity": 1, "child_ticket_ids": 1,
                      "linked_reports": {"$size": _CHILD_LINK}, "opened": _OPENED}},
    ])  # fmt: skip


async def children(db: AsyncDatabase, incidents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The child tickets of these incidents by id: those naming one as parent, and those each listed at opening."""
    ids = [i["_id"] for i in incidents]
    listed = sorted({c for i in incidents for c in i.get("child_ticket_ids") or []})
    found: dict[str, dict[str, Any]] = {}
    for query in ({"parent_incident_id": {"$in": ids}}, {"_id": {"$in": listed}}):
        if next(iter(query.values()))["$in"]:
            async for doc in db[FACTS].find(query, TICKET):
                found[doc["_id"]] = doc
    return found


async def troubled(db: AsyncDatabase, since: datetime) -> list[dict[str, Any]]:
    """Tickets reported since `since` with a breached clock or an escalation, the newest first."""
    return await _aggregate(db, FACTS, [
        {"$match": {"reported_at": {"$gte": since}}},
        {"$match": {"$or": [{"clocks.outcome": "breached"}, {"escalations.0": {"$exists": True}}]}},
        {"$sort": {"reported_at": -1}},
        {"$limit": LIMIT},
        {"$project": {**TICKET, "cause_category": 1, "clocks": 1, "escalations": 1}},
    ])  # fmt: skip


async def reported_since(db: AsyncDatabase, since: datetime) -> list[dict[str, Any]]:
    """The ids and teams of the tickets reported since `since` (whose notifications the outbox lists)."""
    found = db[FACTS].find({"reported_at": {"$gte": since}}, {"_id": 1, "teams": 1})
    return [doc async for doc in found]


async def team_of(db: AsyncDatabase, ticket_id: str) -> dict[str, Any] | None:
    return await db[FACTS].find_one({"_id": ticket_id}, {"_id": 1, "teams": 1})


async def outcomes(db: AsyncDatabase, ticket_ids: list[str]) -> list[dict[str, Any]]:
    """The notification outcomes of these tickets (by the `ticket_id` index)."""
    if not ticket_ids:
        return []
    found = db[OUTCOMES].find({"ticket_id": {"$in": ticket_ids}}, {"order": 0})
    return [doc async for doc in found]


async def notify_texts(url: str, token: str, *, ticket_id: str | None, timeout: float) -> dict[str, dict[str, Any]]:
    """notify's outbox view (GET /v1/notifications) read with the operator's own token, so notify applies its own
    scope and masking: message text and state by notification id. Raises httpx.HTTPError (or a status error) when
    notify does not answer well; the page then shows the outcomes without texts."""
    params: dict[str, Any] = {"limit": LIMIT, **({"ticket_id": ticket_id} if ticket_id else {})}
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        answer = await client.get("/v1/notifications", params=params, headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return {n["id"]: {"text": n.get("text"), "state": n.get("state")} for n in answer.json().get("notifications", [])}
