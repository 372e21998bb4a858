"""sla-watch's database: `clocks` (each ticket's replayable ledger: its events, its clock states, its outbox),
`timers` (each ticket's pending timers and the ids of those already fired), `line_faults` (one record per resolved
ticket on a service line, for the yearly quality budgets) and `quality_alerts` (budget events sent).

Concurrency: a ticket's documents are written only by the owner of its Kafka partition, and a ledger append is
version-checked (`{_id, version}`), so across replicas exactly one writer appends each event. It holds because the
consumer group gives a partition one owner at a time and, in the moments of a rebalance when two replicas may both
handle the ticket, the second append loses the version check (Conflict: re-read, then it sees the event and only
re-derives); the timers and faults are rewritten from the ledger (the same content from either), and firing only
adds ids to the `fired` set (`$addToSet`), which commutes with those rewrites.

Every query is by `_id`, except the takeover's load by `timers.partition` (indexed), the outbox sweep by
`clocks.(outbox_pending, partition)` (indexed) and a line's faults by `(service_line_id, year)` (indexed); `setup`
creates the indexes.

A ticket's pending timers are stored as sub-documents with named fields (`domain/snapshot.py`, `timer_data`);
documents written before hold each timer packed into one string, which a load still reads (upcast) and the
ticket's next write replaces. Retention: each collection carries a TTL date,
`purge_after` (sla_watch/domain/retention.py says when it is set).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from huying.events import Event, Tier
from huying.failures import FailureMetrics
from huying.idempotency import insert_once
from huying.outbox import PENDING, document_with_outbox, quarantine, with_outbox
from huying.service import Runtime
from sla_watch.domain import Timer, stored_timer_id, timer_data, timer_from_data
from sla_watch.domain.quality import Fault

FAULTS, QUALITY_SENT = "line_faults", "quality_alerts"
PURGE = "purge_after"


class Conflict(Exception):
    """The ticket's ledger changed under us (another writer): the event is retried by redelivery."""


async def setup(runtime: Runtime) -> None:
    """The indexes every hot query uses, and the TTL indexes of retention (MongoDB and SecantusDB alike)."""
    db = runtime.db
    await db.service_lines.create_index("customer_id")
    await db.timers.create_index("partition")
    await db.clocks.create_index([(PENDING, 1), ("partition", 1)])  # the outbox sweep of owned partitions
    await db[FAULTS].create_index([("service_line_id", 1), ("year", 1)])
    for collection in (db.clocks, db.timers, db[FAULTS], db[QUALITY_SENT]):
        await collection.create_index(PURGE, expireAfterSeconds=0)


def _retention(purge_after: datetime | None) -> dict[str, Any]:
    return {"$set": {PURGE: purge_after}} if purge_after is not None else {"$unset": {PURGE: ""}}


async def get_ledger(db: AsyncDatabase, ticket_id: str) -> dict[str, Any] | None:
    return await db.clocks.find_one({"_id": ticket_id})


async def save_ledger(
    db: AsyncDatabase,
    ticket_id: str,
    *,
    version: int,
    event: dict[str, Any],
    fields: dict[str, Any],
    outbox: list[dict[str, Any]],
    purge_after: datetime | None = None,
) -> None:
    """Append one event to the ledger at `version` (0: a new ledger) with the events it caused, in one write."""
    if version == 0:
        document = {"_id": ticket_id, "version": 1, "events": [event], **fields}
        if purge_after is not None:
            document[PURGE] = purge_after
        try:
            await db.clocks.insert_one(document_with_outbox(document, outbox))
        except DuplicateKeyError as error:
            raise Conflict(ticket_id) from error
        return
    retention = _retention(purge_after)
    update = {"$set": {**fields, **retention.get("$set", {})}, "$inc": {"version": 1}, "$push": {"events": event}}
    if "$unset" in retention:
        update["$unset"] = retention["$unset"]
    result = await db.clocks.update_one(
        {"_id": ticket_id, "version": version}, with_outbox(update, outbox) if outbox else update
    )
    if result.matched_count != 1:
        raise Conflict(ticket_id)


class LedgerOutboxes:
    """The ledgers' outboxes as `ledger_outbox.LedgerOutbox` reads, clears and quarantines them (tests: an
    in-memory one)."""

    def __init__(self, db: AsyncDatabase, *, failures: FailureMetrics | None = None) -> None:
        self.db, self.failures = db, failures

    async def entries(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ledger's pending outbox entries, in the order they were appended."""
        doc = await self.db.clocks.find_one({"_id": ticket_id}, {"outbox": 1})
        return list((doc or {}).get("outbox") or [])

    async def pending(self, partitions: Iterable[int]) -> list[str]:
        """Tickets of the partitions whose ledger is flagged pending (index `(outbox_pending, partition)`)."""
        query = {PENDING: True, "partition": {"$in": sorted(partitions)}}
        return [doc["_id"] async for doc in self.db.clocks.find(query, {"_id": 1})]

    async def clear(self, ticket_id: str, *, read: list[dict[str, Any]], gone: list[dict[str, Any]]) -> None:
        """Remove the entries `gone` (published) of those `read` from the ledger. One write when they are all it
        holds (the common case): outbox emptied, no longer pending. Otherwise `$pull` of exactly those (by event
        id): entries kept (or appended meanwhile) stay, and the ledger stays flagged pending for the sweep."""
        if len(gone) == len(read):
            cleared = await self.db.clocks.update_one(
                {"_id": ticket_id, "outbox": read}, {"$set": {"outbox": [], PENDING: False}}
            )
            if cleared.matched_count:
                return
        ids = [entry["event_id"] for entry in gone]
        await self.db.clocks.update_one(
            {"_id": ticket_id}, {"$pull": {"outbox": {"event_id": {"$in": ids}}}, "$set": {PENDING: True}}
        )

    async def quarantine(self, refused: list[tuple[dict[str, Any], BaseException]]) -> None:
        """Entries Kafka refused for good, kept with the reason in `outbox_quarantine` (huying.outbox; replayed by
        `python -m huying.replay outbox`) before they leave the ledger: never deleted unpublished."""
        await quarantine(self.db, refused, source="clocks", metrics=self.failures)


def timers_document(partition: int, timers: list[Timer]) -> dict[str, Any]:
    """A ticket's `timers` fields. `partition` is there only while timers are pending (what a takeover loads: a
    settled ticket's document stays out of the load until it expires); `next_due` serves operators' queries."""
    fields: dict[str, Any] = {
        "next_due": min((t.due_at for t in timers), default=None),
        "timers": [timer_data(t) for t in timers],
    }
    if timers:
        fields["partition"] = partition
    return fields


async def save_timers(
    db: AsyncDatabase,
    ticket_id: str,
    partition: int,
    timers: Iterable[Timer],
    *,
    purge_after: datetime | None = None,
) -> None:
    """The ticket's pending timers, replacing those stored (idempotent); the fired ids stay as they are."""
    fields = timers_document(partition, list(timers))
    update: dict[str, Any] = {"$set": fields}
    unset = {} if "partition" in fields else {"partition": ""}
    if purge_after is not None:
        fields[PURGE] = purge_after
    else:
        unset[PURGE] = ""
    if unset:
        update["$unset"] = unset
    await db.timers.update_one({"_id": ticket_id}, update, upsert=True)


async def fired_ids(db: AsyncDatabase, ticket_id: str) -> set[uuid.UUID]:
    doc = await db.timers.find_one({"_id": ticket_id}, {"fired": 1})
    return {uuid.UUID(i) for i in (doc or {}).get("fired", ())}


async def record_fired(db: AsyncDatabase, fired: Iterable[Timer]) -> None:
    """Add the fired timers' ids to their tickets' `fired` sets: one unordered bulk write, one update per ticket
    by `_id` (an id already there is fine: fired before)."""
    by_ticket: dict[str, list[str]] = {}
    for timer in fired:
        by_ticket.setdefault(timer.ticket_id, []).append(str(timer.timer_id))
    if by_ticket:
        await db.timers.bulk_write(
            [UpdateOne({"_id": t}, {"$addToSet": {"fired": {"$each": ids}}}) for t, ids in by_ticket.items()],
            ordered=False,
        )


Unreadable = Callable[[Any, Exception], None]


async def load_partitions(
    db: AsyncDatabase, partitions: list[int], *, unreadable: Unreadable
) -> dict[int, list[tuple[str, list[Timer]]]]:
    """Stored pending timers of the partitions' tickets, less those already fired: one indexed query. A timer (or
    a document) that cannot be read is reported to `unreadable` with its ticket id and skipped, not the load."""
    out: dict[int, list[tuple[str, list[Timer]]]] = {p: [] for p in partitions}
    query = db.timers.find({"partition": {"$in": partitions}}, {"partition": 1, "timers": 1, "fired": 1})
    async for doc in query.batch_size(2000):  # decoded per batch: keep each short
        try:
            ticket_id, tickets, stored = doc["_id"], out[doc["partition"]], doc["timers"]
            done = set(doc.get("fired") or ())
            if not isinstance(stored, list):
                raise TypeError(f"timers of type {type(stored).__name__}, not a list")
        except Exception as error:
            unreadable(doc.get("_id"), error)
            continue
        timers = []
        for data in stored:
            try:
                if stored_timer_id(data) not in done:
                    timers.append(timer_from_data(ticket_id, data))
            except Exception as error:
                unreadable(ticket_id, error)
        if timers:
            tickets.append((ticket_id, timers))
    return out


# quality budgets: a ticket's fault is written only by its partition's owner (one writer per document, by `_id`)


async def record_fault(db: AsyncDatabase, fault: Fault, *, purge_after: datetime) -> None:
    """The ticket's fault (one per ticket: a line or year corrected by a later event replaces it)."""
    doc = {**asdict(fault), "tier": str(fault.tier), PURGE: purge_after}
    await db[FAULTS].update_one({"_id": fault.ticket_id}, {"$set": doc}, upsert=True)


async def forget_faults(db: AsyncDatabase, ticket_id: str) -> None:
    """A cancelled ticket is no fault (it may have been resolved before)."""
    await db[FAULTS].delete_one({"_id": ticket_id})


async def line_faults(db: AsyncDatabase, service_line_id: str, year: int) -> list[Fault]:
    docs = db[FAULTS].find({"service_line_id": service_line_id, "year": year}, {"_id": 0, PURGE: 0})
    return [Fault(**{**doc, "tier": Tier(doc["tier"])}) async for doc in docs]


async def quality_sent(db: AsyncDatabase, event_id: uuid.UUID) -> bool:
    return await db[QUALITY_SENT].find_one({"_id": str(event_id)}, {"_id": 1}) is not None


async def mark_quality_sent(db: AsyncDatabase, event: Event, *, at: datetime, purge_after: datetime) -> None:
    await insert_once(
        db[QUALITY_SENT], {"_id": str(event.event_id), "type": event.type, "sent_at": at, PURGE: purge_after}
    )
