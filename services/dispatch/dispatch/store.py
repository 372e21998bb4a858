"""dispatch's database: `tickets`, one document per ticket (the aggregate), plus the CRM replica.

Concurrency rule: a ticket changes only by `update_one({_id, version: read}, ...)`, one atomic write, so of two
writers of the same version exactly one wins, on one replica or many (MongoDB's single-document atomicity, not a
lock in this process).

That one write sets the new state and version, pushes the decision's history lines onto the ticket's append-only
`history`, its events onto `outbox` (published by the shared relay), and the consumed event's id onto
`applied_events` (a redelivery finds it there; bounded by the ticket's life). A ticket is created by an insert,
whose unique `_id` is the duplicate check for a redelivered opening. `history`, `outbox` and `applied_events` are
projected out of every read that does not need them.

Hot queries and their indexes (created by `setup` at start-up; huying.mongo says what the planner serves):
- by ticket: `_id` (and `{_id, version}` for writes), a primary-key lookup;
- per-assignee load: a counter per member in `loads` (`$inc` after each ticket write that changes who holds open
  work, read by `_id`), recounted from the live queues at start-up and every `load_recount_seconds`;
- the ticket list: `list_keys` (multikey), one `$in` query (see `list_keys` and `find`);
- a CRM batch's tickets: `customer_id`, one `$in` for the batch, the rest filtered here;
- the outbox relay: `outbox_pending` (the relay creates it);
- retention: `purge_after`, a TTL index: closed and cancelled tickets are deleted that long after their last change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from dispatch.domain.automatic import FOLLOWS_TIER
from dispatch.domain.lifecycle import Decision
from dispatch.domain.model import State, Ticket
from dispatch.domain.queue import queue_order
from huying.idempotency import APPLIED, insert_once
from huying.outbox import PENDING, document_with_outbox, outbox_entry, with_outbox

TICKETS = "tickets"
LOADS = "loads"  # per member: how many open tickets hold an open work item of theirs
HISTORY = "history"
PURGE_AFTER = "purge_after"
LIST_KEYS = "list_keys"
ALL = "*"  # the list scope of everyone who reads every ticket
TERMINAL = frozenset({State.CLOSED, State.CANCELLED})
# What a read of the state leaves out: the audit trail, unpublished events, consumed ids, query keys.
STATE_ONLY = {HISTORY: 0, "outbox": 0, APPLIED: 0, LIST_KEYS: 0}
TRACKED = {HISTORY: 0, "outbox": 0, LIST_KEYS: 0}


async def setup(db: AsyncDatabase) -> None:
    """The indexes every hot query uses (idempotent; run at each start-up)."""
    await db[TICKETS].create_index(LIST_KEYS)
    await db[TICKETS].create_index("customer_id")
    await db[TICKETS].create_index(PURGE_AFTER, expireAfterSeconds=0)
    await db[TICKETS].create_index(PENDING)
    await db[LOADS].create_index("n")


def day(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def list_keys(ticket: Ticket) -> list[str]:
    """What the ticket list finds a ticket by: for each scope that may list it (everyone who reads all, and every
    team that ever worked it), its opening day (UTC) and, unless closed or cancelled, its state. A list of a live
    state is the queue, bounded by work in progress; any other list is a window of opening days."""
    scopes = [ALL, *sorted({i.team for i in ticket.work_items})]
    keys = [f"{scope}|{day(ticket.opened_at)}" for scope in scopes]
    if ticket.state not in TERMINAL:
        keys += [f"{scope}|{ticket.state}" for scope in scopes]
    return keys


def _state(ticket: Ticket) -> dict[str, Any]:
    """The aggregate's fields plus the denormalised keys that queries filter on."""
    return {
        **ticket.model_dump(mode="python"),
        "teams": sorted({i.team for i in ticket.work_items}),
        "open_assignees": ticket.open_assignees(),
        LIST_KEYS: list_keys(ticket),
    }


def _history(decision: Decision) -> list[dict[str, Any]]:
    return [h.model_dump(mode="python") for h in decision.history]


async def insert_new(
    db: AsyncDatabase, decision: Decision, *, topic: str, applied: str, purge_after: datetime | None = None
) -> bool:
    """Create a ticket with its history and first events; False if it already exists (a redelivered opening)."""
    return await insert_once(db[TICKETS], new_document(decision, topic=topic, applied=applied, purge_after=purge_after))


def new_document(
    decision: Decision, *, topic: str, applied: str, purge_after: datetime | None = None
) -> dict[str, Any]:
    """A new ticket's document (for `insert_new`, and for loading many at once)."""
    ticket = decision.ticket
    document = {
        "_id": ticket.ticket_id,
        **_state(ticket),
        APPLIED: [applied],
        HISTORY: _history(decision),
        **({PURGE_AFTER: purge_after} if purge_after else {}),
    }
    entries = [outbox_entry(topic, e) for e in decision.events]
    return document_with_outbox(document, entries) if entries else document


async def save(
    db: AsyncDatabase,
    decision: Decision,
    *,
    topic: str,
    consumed: str | None = None,
    purge_after: datetime | None = None,
) -> bool:
    """Write the decision as the next version of the ticket it was decided on, in one atomic update; False if
    another writer took that version first (nothing written then)."""
    ticket = decision.ticket
    state = _state(ticket)
    if purge_after:
        state[PURGE_AFTER] = purge_after
    update: dict[str, Any] = {"$set": state, "$push": {HISTORY: {"$each": _history(decision)}}}
    if consumed:
        update["$push"][APPLIED] = consumed
    if not purge_after:
        update["$unset"] = {PURGE_AFTER: ""}
    entries = [outbox_entry(topic, e) for e in decision.events]
    if entries:
        update = with_outbox(update, entries)
    result = await db[TICKETS].update_one({"_id": ticket.ticket_id, "version": ticket.version - 1}, update)
    return result.matched_count == 1


async def load(db: AsyncDatabase, ticket_id: str) -> Ticket | None:
    doc = await db[TICKETS].find_one({"_id": ticket_id}, STATE_ONLY)
    return Ticket.model_validate(doc) if doc else None


async def load_tracked(db: AsyncDatabase, ticket_id: str) -> tuple[Ticket | None, list[str]]:
    """The ticket and the ids of the consumed events already applied to it."""
    doc = await db[TICKETS].find_one({"_id": ticket_id}, TRACKED)
    return (Ticket.model_validate(doc), doc.get(APPLIED, [])) if doc else (None, [])


async def load_with_history(db: AsyncDatabase, ticket_id: str) -> tuple[Ticket | None, list[dict[str, Any]]]:
    """The ticket and every history line, oldest first, in one read."""
    doc = await db[TICKETS].find_one({"_id": ticket_id}, {"outbox": 0, APPLIED: 0, LIST_KEYS: 0})
    if doc is None:
        return None, []
    entries = doc.pop(HISTORY, [])
    return Ticket.model_validate(doc), entries


async def version(db: AsyncDatabase, ticket_id: str) -> int | None:
    doc = await db[TICKETS].find_one({"_id": ticket_id}, {"version": 1})
    return doc["version"] if doc else None


def list_query(*, teams: Sequence[str] | None, state: str | None, since: datetime, until: datetime) -> list[str]:
    """The `list_keys` a list looks up: a live state's queue, or the opening days from `since` to `until`."""
    scopes = [ALL] if teams is None else sorted(set(teams))
    if state and state in set(State) - TERMINAL:
        return [f"{scope}|{state}" for scope in scopes]
    days, at = [], since
    while at.date() <= until.date():
        days.append(day(at))
        at += timedelta(days=1)
    return [f"{scope}|{d}" for scope in scopes for d in days]


async def find(
    db: AsyncDatabase,
    *,
    teams: Sequence[str] | None,
    state: str | None,
    limit: int,
    since: datetime,
    until: datetime,
) -> list[Ticket]:
    """Tickets in one index-served query; `teams` (None: all) restricts to tickets any of those teams ever worked.
    A live `state` lists that state's whole queue, in the queue's order (level, then restore deadline:
    `domain.queue`); otherwise the tickets opened from `since` to `until` (of `state`, if one is given), newest
    first. The matches are few (a queue, or a window of days), so they are sorted here: a descending sort of the
    server would fetch every ticket of the collection."""
    keys = list_query(teams=teams, state=state, since=since, until=until)
    if not keys:
        return []
    windowed = not state or state in TERMINAL
    found = [
        Ticket.model_validate(doc)
        async for doc in db[TICKETS].find({LIST_KEYS: {"$in": keys}}, STATE_ONLY)
        if not windowed or (since <= doc["opened_at"] <= until and (not state or doc["state"] == state))
    ]
    if not windowed:
        return queue_order(found)[:limit]
    found.sort(key=lambda t: (t.opened_at, t.ticket_id), reverse=True)
    return found[:limit]


async def tickets_off_tier(db: AsyncDatabase, tiers: Mapping[str, str]) -> list[tuple[str, str]]:
    """(customer, ticket) pairs of the customers' live tickets whose tier differs from the customer's (`tiers`:
    customer → tier), in one query on `customer_id`; the decision re-checks each ticket."""
    if not tiers:
        return []
    live = {str(s) for s in FOLLOWS_TIER}
    fields = {"customer_id": 1, "kind": 1, "state": 1, "tier": 1}
    cursor = db[TICKETS].find({"customer_id": {"$in": sorted(tiers)}}, fields)
    return [
        (doc["customer_id"], doc["_id"])
        async for doc in cursor
        if doc.get("kind") == "ticket" and doc.get("state") in live and doc.get("tier") != tiers[doc["customer_id"]]
    ]


async def loads(db: AsyncDatabase, members: Sequence[str]) -> dict[str, int]:
    """Open tickets per member (the least-loaded assignment's input), for the given members only: their counters,
    one primary-key read whatever the number of open tickets."""
    if not members:
        return {}
    found = db[LOADS].find({"_id": {"$in": sorted(set(members))}}, {"n": 1})
    return {doc["_id"]: doc["n"] async for doc in found if doc["n"] > 0}


async def shift_loads(db: AsyncDatabase, before: Iterable[str], after: Iterable[str]) -> None:
    """After a ticket write landed: +1 for each member who now holds open work on it, −1 for each who no longer
    does. A second write beside the ticket's, so a crash between the two leaves a counter off by one until the next
    `recount_loads` (least-loaded assignment is a heuristic: a count off by one for minutes misroutes nothing)."""
    old, new = set(before), set(after)
    changes = [UpdateOne({"_id": m}, {"$inc": {"n": 1}}, upsert=True) for m in sorted(new - old)]
    changes += [UpdateOne({"_id": m}, {"$inc": {"n": -1}}, upsert=True) for m in sorted(old - new)]
    if changes:
        await db[LOADS].bulk_write(changes, ordered=False)


async def recount_loads(db: AsyncDatabase) -> dict[str, int]:
    """Set the members' counters from the open tickets themselves (one index-served read of the live queues, by
    `list_keys`); run at start-up and periodically to heal counters a crash left behind. A counter that moved while
    the tickets were read (a write of any replica landed meanwhile) is left for the next recount, so a recount never
    undoes a concurrent `$inc`. Returns the counts read."""
    before = await _counters(db)
    live = [f"{ALL}|{state}" for state in sorted(set(State) - TERMINAL)]
    counts: dict[str, int] = {}
    async for doc in db[TICKETS].find({LIST_KEYS: {"$in": live}}, {"_id": 0, "open_assignees": 1}):
        for member in doc.get("open_assignees", []):
            counts[member] = counts.get(member, 0) + 1
    after = await _counters(db)
    steady = {m for m in set(before) | set(after) | set(counts) if before.get(m, 0) == after.get(m, 0)}
    changes = [
        UpdateOne({"_id": m, "n": after.get(m, 0)}, {"$set": {"n": counts.get(m, 0)}}, upsert=m not in after)
        for m in sorted(steady)
        if after.get(m, 0) != counts.get(m, 0)
    ]
    if changes:
        with contextlib.suppress(BulkWriteError):  # a counter created meanwhile: the next recount sees it
            await db[LOADS].bulk_write(changes, ordered=False)
    return counts


async def _counters(db: AsyncDatabase) -> dict[str, int]:
    """Every non-zero counter (two index-served ranges on `n`)."""
    found: dict[str, int] = {}
    for condition in ({"$gt": 0}, {"$lt": 0}):
        async for doc in db[LOADS].find({"n": condition}, {"n": 1}):
            found[doc["_id"]] = doc["n"]
    return found


async def service_line_cities(db: AsyncDatabase, service_line_id: str | None) -> list[str]:
    """Endpoint cities of a service line, from this service's CRM replica ([] if unknown)."""
    if not service_line_id:
        return []
    doc = await db.service_lines.find_one({"_id": service_line_id}, {"cities": 1})
    return list(doc.get("cities") or []) if doc else []


CUSTOMER_FIELDS = {"name": 1, "tier": 1, "city": 1, "account_manager": 1, "contacts": 1}


async def customer(db: AsyncDatabase, customer_id: str | None) -> dict[str, Any] | None:
    """The customer from the CRM replica: name, tier, account manager, contacts."""
    if not customer_id:
        return None
    return await db.customers.find_one({"_id": customer_id}, CUSTOMER_FIELDS)


async def customers(db: AsyncDatabase, customer_ids: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    """Several customers from the CRM replica in one primary-key query (a list page's)."""
    ids = sorted({c for c in customer_ids if c})
    if not ids:
        return {}
    return {doc["_id"]: doc async for doc in db.customers.find({"_id": {"$in": ids}}, CUSTOMER_FIELDS)}


async def crm_customers(db: AsyncDatabase, customer_ids: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    """The customers' replica records with the CRM event each reflects (`source_event_id`, `source_time`)."""
    ids = sorted({c for c in customer_ids if c})
    if not ids:
        return {}
    return {doc["_id"]: doc async for doc in db.customers.find({"_id": {"$in": ids}})}


async def crm_customer(db: AsyncDatabase, customer_id: str | None) -> dict[str, Any] | None:
    """The customer's replica record with the CRM event it reflects (`source_event_id`, `source_time`)."""
    return (await crm_customers(db, [customer_id])).get(customer_id or "")
