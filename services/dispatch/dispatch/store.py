"""dispatch's database: `revisions` (the truth, insert-only) and `tickets` (the current version of each ticket).

Every change is one insert into `revisions` under the id `<ticket>#<version>`: the new state, its history
lines and its outbox events in a single document, so state, audit trail and events cannot part. The unique
`_id` makes the insert the optimistic-concurrency check — two writers of the same version: one insert wins,
the other gets DuplicateKeyError (409). Then the ticket's row in `tickets` is moved forward; it is a cache
for reads and queries, repaired from `revisions` whenever a write finds it behind. Nothing is ever deleted.

Why not a version-guarded update_one on one document: FerretDB v1 does not isolate concurrent updates of a
document (measured: two `update_one({_id, version: 0})` racing both report success in ~60 % of races, and an
update racing the outbox relay's `$pullAll` is lost), while its unique `_id` index is enforced on insert.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dispatch.domain.automatic import FOLLOWS_TIER
from dispatch.domain.lifecycle import Decision
from dispatch.domain.model import Ticket
from huying.idempotency import APPLIED, insert_once
from huying.outbox import document_with_outbox, outbox_entry

NOT_STATE = {APPLIED: 0}
REVISIONS = "revisions"


def revision_id(ticket_id: str, version: int) -> str:
    return f"{ticket_id}#{version:08d}"


async def setup(db: AsyncDatabase) -> None:
    """Indexes for MongoDB (FerretDB v1 keeps them but scans anyway, see huying.mongo)."""
    await db.tickets.create_index("state")
    await db.tickets.create_index("teams")
    await db.tickets.create_index("open_assignees")
    await db[REVISIONS].create_index([("ticket_id", 1), ("version", 1)])
    await db.service_lines.create_index("customer_id")


def _state(ticket: Ticket, applied: list[str]) -> dict[str, Any]:
    """The aggregate's fields plus the denormalised keys that queries filter on."""
    return {
        **ticket.model_dump(mode="python"),
        "teams": sorted({i.team for i in ticket.work_items}),
        "open_assignees": ticket.open_assignees(),
        APPLIED: applied,
    }


async def _write(db: AsyncDatabase, decision: Decision, *, topic: str, applied: list[str]) -> bool:
    ticket = decision.ticket
    state = _state(ticket, applied)
    revision = {
        "_id": revision_id(ticket.ticket_id, ticket.version),
        **state,
        "history": [h.model_dump(mode="python") for h in decision.history],
    }
    entries = [outbox_entry(topic, e) for e in decision.events]
    if not await insert_once(db[REVISIONS], document_with_outbox(revision, entries) if entries else revision):
        return False
    await _advance(db, ticket.ticket_id, state)
    return True


async def _advance(db: AsyncDatabase, ticket_id: str, state: dict[str, Any]) -> None:
    """Move the cached current version forward, never back (a newer one already there wins)."""
    with contextlib.suppress(DuplicateKeyError):  # the row is already at this version or newer
        await db.tickets.replace_one({"_id": ticket_id, "version": {"$lt": state["version"]}}, state, upsert=True)


async def insert_new(db: AsyncDatabase, decision: Decision, *, topic: str, applied: str) -> bool:
    """Create a ticket with its history and first events; False if it already exists (a redelivered opening)."""
    return await _write(db, decision, topic=topic, applied=[applied])


async def save(
    db: AsyncDatabase,
    decision: Decision,
    *,
    topic: str,
    applied: list[str],
    consumed: str | None = None,
) -> bool:
    """Write the decision as the next version; False if another writer took that version first (the cached
    row is repaired then, so the next read sees the winner)."""
    saved = await _write(db, decision, topic=topic, applied=[*applied, *([consumed] if consumed else [])])
    if not saved:
        await repair(db, decision.ticket.ticket_id)
    return saved


async def repair(db: AsyncDatabase, ticket_id: str) -> None:
    """Bring the cached row up to the newest revision (after a lost race or a crash between the two writes)."""
    cursor = db[REVISIONS].find({"ticket_id": ticket_id}, {"history": 0, "outbox": 0, "outbox_pending": 0})
    latest = await cursor.sort("version", -1).limit(1).to_list()
    if latest:
        state = latest[0]
        state["_id"] = ticket_id
        await _advance(db, ticket_id, state)


async def load(db: AsyncDatabase, ticket_id: str) -> Ticket | None:
    doc = await db.tickets.find_one({"_id": ticket_id}, NOT_STATE)
    return Ticket.model_validate(doc) if doc else None


async def load_tracked(db: AsyncDatabase, ticket_id: str) -> tuple[Ticket | None, list[str]]:
    """The ticket and the ids of the consumed events already applied to it."""
    doc = await db.tickets.find_one({"_id": ticket_id})
    return (Ticket.model_validate(doc), doc.get(APPLIED, [])) if doc else (None, [])


async def version(db: AsyncDatabase, ticket_id: str) -> int | None:
    doc = await db.tickets.find_one({"_id": ticket_id}, {"version": 1})
    return doc["version"] if doc else None


async def history(db: AsyncDatabase, ticket_id: str) -> list[dict[str, Any]]:
    """Every history line of the ticket, oldest first, gathered from its revisions."""
    cursor = db[REVISIONS].find({"ticket_id": ticket_id}, {"history": 1, "version": 1}).sort("version", 1)
    return [entry async for revision in cursor for entry in revision.get("history", [])]


async def find(db: AsyncDatabase, *, teams: Sequence[str] | None, state: str | None, limit: int) -> list[Ticket]:
    """Tickets, newest first; `teams` (None: all) restricts to tickets any of those teams ever worked."""
    query: dict[str, Any] = {}
    if teams is not None:
        query["teams"] = {"$in": list(teams)}
    if state:
        query["state"] = state
    cursor = db.tickets.find(query, NOT_STATE).sort("opened_at", -1).limit(limit)
    return [Ticket.model_validate(doc) async for doc in cursor]


async def tickets_off_tier(db: AsyncDatabase, customer_id: str, tier: str) -> list[str]:
    """Ids of the customer's live tickets whose tier differs from `tier` (the decision re-checks each one)."""
    live = [str(s) for s in FOLLOWS_TIER]
    query = {"customer_id": customer_id, "kind": "ticket", "state": {"$in": live}, "tier": {"$ne": tier}}
    return [doc["ticket_id"] async for doc in db.tickets.find(query, {"ticket_id": 1})]


async def loads(db: AsyncDatabase, members: Sequence[str]) -> dict[str, int]:
    """Open work items per member (the least-loaded assignment's input), for the given members only."""
    if not members:
        return {}
    pipeline = [
        {"$match": {"open_assignees": {"$in": list(members)}}},
        {"$unwind": "$open_assignees"},
        {"$match": {"open_assignees": {"$in": list(members)}}},
        {"$group": {"_id": "$open_assignees", "n": {"$sum": 1}}},
    ]
    return {row["_id"]: row["n"] async for row in await db.tickets.aggregate(pipeline)}


async def service_line_cities(db: AsyncDatabase, service_line_id: str | None) -> list[str]:
    """Endpoint cities of a service line, from this service's CRM replica ([] if unknown)."""
    if not service_line_id:
        return []
    doc = await db.service_lines.find_one({"_id": service_line_id}, {"cities": 1})
    return list(doc.get("cities") or []) if doc else []


async def customer(db: AsyncDatabase, customer_id: str | None) -> dict[str, Any] | None:
    """The customer from the CRM replica: name, tier, account manager, contacts."""
    if not customer_id:
        return None
    fields = {"name": 1, "tier": 1, "city": 1, "account_manager": 1, "contacts": 1}
    return await db.customers.find_one({"_id": customer_id}, fields)


async def crm_customer(db: AsyncDatabase, customer_id: str | None) -> dict[str, Any] | None:
    """The customer's replica record with the CRM event it reflects (`source_event_id`, `source_time`)."""
    if not customer_id:
        return None
    return await db.customers.find_one({"_id": customer_id}, {"applied_events": 0})
