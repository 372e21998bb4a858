"""sla-watch's database: `clocks` (each ticket's replayable ledger: its events), `timers` (each ticket's pending
timers, by Kafka partition), `fired` (insert-only, one record per fired timer id), `line_faults` (one record
per resolved ticket on a service line, for the yearly quality budgets) and `quality_alerts` (budget events sent).

Hot paths avoid updates on big collections (FerretDB scans on every find/update, see huying.mongo): firing only
inserts into `fired`; a partition's timers are loaded with one query per collection; the stored timers of a
ticket are rewritten only when one of its events arrives.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from huying.events import ClockKind, Event, Tier
from huying.idempotency import insert_once
from huying.outbox import PENDING, document_with_outbox, with_outbox
from huying.service import Runtime
from sla_watch.domain import Timer, TimerKind
from sla_watch.domain.quality import Fault

DUPLICATE_KEY = 11000
FAULTS, QUALITY_SENT = "line_faults", "quality_alerts"


class Conflict(Exception):
    """The ticket's ledger changed under us (another writer): the event is retried by redelivery."""


async def setup(runtime: Runtime) -> None:
    """Indexes for MongoDB (FerretDB v1 accepts them and scans anyway)."""
    db = runtime.db
    await db.service_lines.create_index("customer_id")
    await db.timers.create_index("partition")
    await db.fired.create_index("partition")
    await db.fired.create_index("ticket_id")
    await db[FAULTS].create_index([("service_line_id", 1), ("year", 1)])
    await db[FAULTS].create_index("ticket_id")


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
) -> None:
    """Append one event to the ledger at `version` (0: a new ledger) with the events it caused, in one write."""
    if version == 0:
        document = {"_id": ticket_id, "version": 1, "events": [event], **fields}
        try:
            await db.clocks.insert_one(document_with_outbox(document, outbox))
        except DuplicateKeyError as error:
            raise Conflict(ticket_id) from error
        return
    update = {"$set": fields, "$inc": {"version": 1}, "$push": {"events": event}}
    result = await db.clocks.update_one(
        {"_id": ticket_id, "version": version}, with_outbox(update, outbox) if outbox else update
    )
    if result.matched_count != 1:
        raise Conflict(ticket_id)


async def clear_outbox(db: AsyncDatabase, ticket_id: str, entries: list[dict[str, Any]]) -> None:
    """Remove published outbox entries ($pullAll: FerretDB v1 ignores a conditional $pull)."""
    await db.clocks.update_one({"_id": ticket_id}, {"$pullAll": {"outbox": entries}, "$set": {PENDING: False}})


SEP = "\x1f"  # ASCII unit separator: never in ids, clock names, policy versions or team names


def timer_doc(timer: Timer) -> str:
    """A timer as stored: one string, because loading a partition decodes every timer and FerretDB decodes a
    string far faster than a sub-document (it also keeps the microseconds the timer id was derived from)."""
    return SEP.join(
        (
            str(timer.timer_id),
            timer.clock.value,
            str(timer.seq),
            timer.kind.value,
            timer.due_at.isoformat(),
            timer.deadline.isoformat(),
            timer.policy_version,
            "1" if timer.retroactive else "",
            timer.subject or "",
        )
    )


def timer_from(ticket_id: str, text: str) -> Timer:
    tid, clock, seq, kind, due, deadline, policy, retro, subject = text.split(SEP)
    return Timer(
        uuid.UUID(tid),
        ticket_id,
        ClockKind(clock),
        int(seq),
        TimerKind(kind),
        datetime.fromisoformat(due),
        datetime.fromisoformat(deadline),
        policy,
        retroactive=bool(retro),
        subject=subject or None,
    )


def timers_document(partition: int, timers: list[Timer]) -> dict[str, Any]:
    """A ticket's `timers` document; `next_due` is there for operators' queries (and a poller's), not for loading."""
    return {
        "partition": partition,
        "next_due": min((t.due_at for t in timers), default=None),
        "timers": [timer_doc(t) for t in timers],
    }


async def save_timers(db: AsyncDatabase, ticket_id: str, partition: int, timers: Iterable[Timer]) -> None:
    """The ticket's pending timers, replacing what was stored (idempotent)."""
    await db.timers.replace_one({"_id": ticket_id}, timers_document(partition, list(timers)), upsert=True)


async def fired_ids(db: AsyncDatabase, ticket_id: str) -> set[uuid.UUID]:
    return {uuid.UUID(d["_id"]) async for d in db.fired.find({"ticket_id": ticket_id}, {"_id": 1})}


async def record_fired(db: AsyncDatabase, fired: Iterable[tuple[Timer, int]], *, at: datetime) -> None:
    """Insert one record per fired timer, keyed by its id (a record already there is fine: fired before)."""
    records = [
        {"_id": str(t.timer_id), "ticket_id": t.ticket_id, "partition": p, "due_at": t.due_at, "fired_at": at}
        for t, p in fired
    ]
    if not records:
        return
    try:
        await db.fired.insert_many(records, ordered=False)
    except BulkWriteError as error:
        if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
            raise


async def load_partitions(db: AsyncDatabase, partitions: list[int]) -> dict[int, list[tuple[str, list[Timer]]]]:
    """Stored pending timers of the partitions' tickets, less those already fired: one query per collection."""
    done = {d["_id"] async for d in db.fired.find({"partition": {"$in": partitions}}, {"_id": 1})}
    out: dict[int, list[tuple[str, list[Timer]]]] = {p: [] for p in partitions}
    async for doc in db.timers.find({"partition": {"$in": partitions}}).batch_size(
        2000
    ):  # decoded per batch: keep each short
        timers = [timer_from(doc["_id"], d) for d in doc["timers"] if d[:36] not in done]
        if timers:
            out[doc["partition"]].append((doc["_id"], timers))
    return out


# quality budgets: a ticket's fault is written only by its partition's owner (one writer per document)


async def record_fault(db: AsyncDatabase, fault: Fault) -> None:
    doc = {**asdict(fault), "tier": str(fault.tier)}
    await db[FAULTS].replace_one({"_id": f"{fault.service_line_id}|{fault.year}|{fault.ticket_id}"}, doc, upsert=True)


async def forget_faults(db: AsyncDatabase, ticket_id: str) -> None:
    """A cancelled ticket is no fault (it may have been resolved before)."""
    await db[FAULTS].delete_many({"ticket_id": ticket_id})


async def line_faults(db: AsyncDatabase, service_line_id: str, year: int) -> list[Fault]:
    docs = db[FAULTS].find({"service_line_id": service_line_id, "year": year}, {"_id": 0})
    return [Fault(**{**doc, "tier": Tier(doc["tier"])}) async for doc in docs]


async def quality_sent(db: AsyncDatabase, event_id: uuid.UUID) -> bool:
    return await db[QUALITY_SENT].find_one({"_id": str(event_id)}, {"_id": 1}) is not None


async def mark_quality_sent(db: AsyncDatabase, event: Event, *, at: datetime) -> None:
    await insert_once(db[QUALITY_SENT], {"_id": str(event.event_id), "type": event.type, "sent_at": at})
