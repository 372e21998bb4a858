"""What sla-watch asks its database, recorded while it works (ticket events in, timers saved and fired, a
resolved fault counted and a cancelled one forgotten, a takeover loading the partitions): every query is a
primary-key lookup or an index scan, and the check bites when an index is missing."""

from __future__ import annotations

import pytest

from huying.events import TicketAccepted, TicketCancelled, TicketResolved
from tests.integration.sla_watch.conftest import running, tickets_topic
from tests.integration.sla_watch.support import dispatched, now, opened, seconds, uid
from tests.support.kafka import produce, wait_until
from tests.support.plans import recording, scans, shapes

pytestmark = pytest.mark.integration

ENTRY = (
    "{event_id: ·, headers: {correlation_id: ·, event_id: ·, schema_version: ·, type: ·}, key: ·, topic: ·, value: ·}"
)

HOT = [
    "clocks.find({_id: ·})",  # the ledger, per ticket event
    "clocks.update({_id: ·, version: ·})",  # its version-checked append
    f"clocks.update({{_id: ·, outbox: [{ENTRY}]}})",  # its published outbox cleared (the ledger unchanged since)
    "clocks.find({outbox_pending: ·, partition: {$in: […]}})",  # the sweep of owned partitions' pending outboxes
    "timers.find({_id: ·})",  # the ticket's fired ids
    "timers.update({_id: ·})",  # its pending timers saved; a firing batch's ids added (one bulk write)
    "timers.find({partition: {$in: […]}})",  # a takeover's load
    "line_faults.update({_id: ·})",  # a resolved ticket's fault
    "line_faults.find({service_line_id: ·, year: ·})",  # the line's faults of the year
    "line_faults.delete({_id: ·})",  # a cancelled ticket's fault forgotten
    "quality_alerts.find({_id: ·})",  # a budget event sent already?
]


async def test_every_query_sla_watch_sends_is_served_by_a_key_or_an_index(infra, sla_settings, tap, mongo) -> None:
    tag, line = uid(), f"L-P-{uid()}"
    overdue, cancelled = f"T-P0-{tag}", f"T-PC-{tag}"
    faults = [f"T-P{n}-{tag}" for n in range(1, 5)]  # four gold faults: 80 % of the line's year, a warning
    database = mongo[sla_settings.database_name]
    with recording() as recorder:
        async with running(sla_settings):
            t0 = now()
            await produce(
                infra.kafka_bootstrap,
                tickets_topic(sla_settings),
                # reported 172 s ago: restore and director overdue at once, the deputy GM in 8 s
                opened(overdue, t0, reported=-172),
                dispatched(overdue, t0, "team-1"),
                TicketAccepted(ticket_id=overdue, occurred_at=seconds(1, t0), team="team-1"),
                *[resolved for ticket in faults for resolved in _resolved(ticket, line, t0)],
                *_resolved(cancelled, line, t0),
                TicketCancelled(ticket_id=cancelled, occurred_at=seconds(2, t0), reason="重复报障"),
            )
            await tap.wait_for(overdue, "SlaBreached", "restore", timeout=30)
            await wait_until(lambda: _fired(database, overdue), timeout=30)
            await wait_until(lambda: _forgotten(database, set(faults), cancelled), timeout=30)
            await wait_until(lambda: _warned(tap, line), timeout=30)
        async with running(sla_settings):  # a takeover: the partitions' pending timers are loaded
            pass

    recorded = shapes(recorder, database=database.name)
    assert set(HOT) <= set(recorded), (sorted(set(HOT) - set(recorded)), recorded)
    assert await scans(mongo, recorder, database=database.name) == []

    await database.timers.drop_index("partition_1")  # and the check bites: without it, the takeover scans
    assert await scans(mongo, recorder, database=database.name) == [
        f"timers.find({{partition: {{$in: […]}}}}) scans {database.name}.timers"
    ]


async def _fired(database, ticket_id: str) -> bool:
    doc = await database.timers.find_one({"_id": ticket_id})
    return bool(doc and len(doc.get("fired", ())) >= 2)  # the restore breach and the director, fired at once


def _resolved(ticket_id: str, line: str, t0) -> list:
    return [
        opened(ticket_id, t0, reported=-60, service_line_id=line),
        TicketResolved(ticket_id=ticket_id, occurred_at=seconds(1, t0), cause="光缆中断", restored_at=t0),
    ]


async def _forgotten(database, faults: set[str], cancelled: str) -> bool:
    stored = {d["_id"] async for d in database.line_faults.find({}, {"_id": 1})}
    ledger = await database.clocks.find_one({"_id": cancelled}, {"status": 1})
    return stored == faults and bool(ledger) and ledger.get("status") == "cancelled"


async def _warned(tap, line: str) -> bool:
    return any(s.type == "QualityBudgetWarning" and s.body.get("service_line_id") == line for s in tap.seen)
