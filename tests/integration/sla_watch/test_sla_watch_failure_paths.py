"""sla-watch's failure paths over real Kafka and the real database: a ledger's outbox entries all go out on every
pass (the ticket's own, and the sweep's) while one Kafka refuses for good is quarantined; a breach racing its
clock's late stop goes out once; timers stored as named fields read back whatever a team name holds, the packed
form of documents written before is still read, and an unreadable stored timer is skipped (counted) instead of
failing its partition's load; `/readyz` reports the partitions loaded."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from pymongo import AsyncMongoClient

from huying.clock import ManualClock
from huying.events import ClockKind, SlaDeadlineMoved, TicketResolved
from huying.outbox import PENDING, outbox_entry
from sla_watch import store
from sla_watch.app import create
from sla_watch.domain import Timer, TimerKind, timer_data
from sla_watch.domain.snapshot import PACKED_SEP
from sla_watch.settings import SlaWatchSettings
from tests.integration.sla_watch.conftest import running, sla_topic, tickets_topic
from tests.integration.sla_watch.support import FAST_POLICY, dispatched, now, opened, seconds, uid
from tests.integration.test_consumer import private_database  # noqa: F401 (a fixture: its own SecantusDB)
from tests.support.kafka import produce, wait_until

pytestmark = pytest.mark.integration

ODD_TEAM = "gz\x1faccess|ops\x00$team.with.dots 广州 🚀\n"


def moved(ticket_id: str, n: int, topic: str) -> dict:
    """An outbox entry of a real clock-change event (what a ledger holds)."""
    at = now()
    event = SlaDeadlineMoved(
        ticket_id=ticket_id, occurred_at=at, producer="sla-watch", clock="restore", policy_version="test", seq=n,
        old_deadline=at, new_deadline=seconds(60 * n, at), reason="recomputed",
    )  # fmt: skip
    return outbox_entry(topic, event)


def metric(app, name: str, **labels: str) -> float:
    return app.state.runtime.metrics.get_sample_value(name, labels) or 0.0


async def test_outboxes_on_the_real_database_clear_exactly_what_went_out(infra, sla_settings, mongo) -> None:
    db = mongo[sla_settings.database_name]
    outboxes, topic = store.LedgerOutboxes(db), sla_topic(sla_settings)
    a, b, c = (moved("T-O1", n, topic) for n in (1, 2, 3))
    await db.clocks.insert_many(
        [
            {"_id": "T-O1", "partition": 1, "outbox": [a, b, c], PENDING: True},
            {"_id": "T-O2", "partition": 2, "outbox": [a], PENDING: True},
            {"_id": "T-O3", "partition": 1, "outbox": [], PENDING: False},
        ]
    )
    assert await outboxes.pending([1]) == ["T-O1"]
    assert await outboxes.entries("T-O1") == [a, b, c]

    await outboxes.clear("T-O1", read=[a, b, c], gone=[a, c])  # b kept: pulled by id, still flagged
    assert await db.clocks.find_one({"_id": "T-O1"}, {"_id": 0, "outbox": 1, PENDING: 1}) == {
        "outbox": [b],
        PENDING: True,
    }
    await outboxes.clear("T-O1", read=[b], gone=[b])  # all gone: one write, flag lowered
    assert await db.clocks.find_one({"_id": "T-O1"}, {"_id": 0, "outbox": 1, PENDING: 1}) == {
        "outbox": [],
        PENDING: False,
    }
    await db.clocks.update_one({"_id": "T-O2"}, {"$push": {"outbox": b}})  # appended after the pass read [a]
    await outboxes.clear("T-O2", read=[a], gone=[a])
    assert await db.clocks.find_one({"_id": "T-O2"}, {"_id": 0, "outbox": 1, PENDING: 1}) == {
        "outbox": [b],
        PENDING: True,
    }
    assert await outboxes.pending([0, 1, 2]) == ["T-O2"]


async def test_every_pass_publishes_every_pending_entry_and_quarantines_one_kafka_refuses(
    infra, tap, sla_settings, mongo
) -> None:
    settings = sla_settings.model_copy(update={"outbox_sweep_seconds": 0.3})
    ticket, swept, topic = f"T-OB-{uid()}", f"T-OS-{uid()}", sla_topic(settings)
    db = mongo[settings.database_name]
    left = [moved(ticket, 1, topic), moved(ticket, 2, topic), moved(ticket, 3, topic)]
    left[1]["value"] = b'{"padding": "' + b"x" * 2_000_000 + b'"}'  # over the producer's record limit: refused
    stranded = moved(swept, 1, topic)
    async with running(settings) as app:
        t0 = now()
        await produce(infra.kafka_bootstrap, tickets_topic(settings), opened(ticket, t0), opened(swept, t0))
        await tap.wait_for(ticket, "SlaClockStarted", "restore")
        await tap.wait_for(swept, "SlaClockStarted", "restore")
        # what the old flush could leave: entries behind, the ledger marked as having none
        await db.clocks.update_one({"_id": ticket}, {"$push": {"outbox": {"$each": left}}, "$set": {PENDING: False}})
        # and a ledger whose pass failed (Kafka away): flagged, no event of its own comes
        await db.clocks.update_one({"_id": swept}, {"$push": {"outbox": stranded}, "$set": {PENDING: True}})
        await produce(infra.kafka_bootstrap, tickets_topic(settings), dispatched(ticket, seconds(1, t0)))
        await tap.wait_for(ticket, "SlaClockStarted", "acceptance")  # the new event's own entry
        await wait_until(lambda: _seen(tap, left[0], left[2]), timeout=30)  # and what was left, in order
        await wait_until(lambda: _seen(tap, stranded), timeout=30)  # the sweep's
        await wait_until(lambda: _cleared(db, ticket, swept), timeout=30)
        quarantined = await db.outbox_quarantine.find_one({"_id": left[1]["event_id"]})
        assert quarantined["source"] == "clocks" and "MessageSizeTooLarge" in quarantined["error"]
        assert quarantined["entry"] == left[1]  # whole: `python -m huying.replay outbox` can send it again
        assert metric(app, "huying_outbox_quarantined_total", service="sla-watch", collection="clocks") == 1
        assert metric(app, "huying_sla_watch_outbox_publish_failures_total", reason="refused") == 1
    assert not tap.duplicates()


async def _cleared(db, *tickets: str) -> bool:
    docs = await db.clocks.find({"_id": {"$in": list(tickets)}}, {"outbox": 1, PENDING: 1}).to_list()
    return len(docs) == len(tickets) and all(d["outbox"] == [] and d[PENDING] is False for d in docs)


async def _seen(tap, *entries: dict) -> bool:
    ids = [s.event_id for s in tap.seen]
    wanted = [e["event_id"] for e in entries]
    return all(w in ids for w in wanted) and [i for i in ids if i in wanted] == wanted


async def test_stored_timers_survive_odd_team_names_old_packed_documents_and_unreadable_ones(
    infra, sla_settings, tap, mongo, http
) -> None:
    db = mongo[sla_settings.database_name]
    ticket, legacy = f"T-ST-{uid()}", f"T-SL-{uid()}"
    async with running(sla_settings):
        t0 = now()
        await produce(
            infra.kafka_bootstrap, tickets_topic(sla_settings), opened(ticket, t0), dispatched(ticket, t0, ODD_TEAM)
        )
        await wait_until(lambda: _timer_of(db, ticket, ODD_TEAM), timeout=30)
    stored = await _timer_of(db, ticket, ODD_TEAM)
    assert set(stored) >= {"timer_id", "clock", "seq", "kind", "due_at", "deadline", "policy_version", "subject"}

    due = now() + timedelta(seconds=2)
    packed_id = str(uuid.uuid4())
    packed = PACKED_SEP.join(
        [packed_id, "restore", "1", "breach", due.isoformat(), due.isoformat(), "2026.1", "", "gz\x1fold\x1fteam"]
    )
    await db.timers.insert_many(
        [
            {"_id": legacy, "partition": 0, "timers": [packed, "garbage", {"timer_id": "x"}], "fired": []},
            {"_id": f"T-SB-{uid()}", "partition": 1, "timers": "not a list"},
        ]
    )
    async with running(sla_settings) as app:  # a takeover loads every partition's stored timers
        async with http(app) as client:
            response = await client.get("/readyz", timeout=10)
        assert response.status_code == 200 and response.json()["checks"]["partitions_loaded"] is True
        assert metric(app, "huying_sla_watch_unreadable_stored_timers_total") == 3  # skipped, not the partition
        assert metric(app, "huying_sla_watch_partition_load_failures_total") == 0
        upcast = (await tap.wait_for(legacy, "SlaBreached", "restore", timeout=20))[0]
        assert upcast.event_id == packed_id and upcast.body["subject"] == "gz\x1fold\x1fteam"
        breach = await tap.wait_for(ticket, "SlaBreached", "acceptance", subject=ODD_TEAM, timeout=30)
    assert breach[0].body["subject"] == ODD_TEAM


async def _timer_of(db, ticket_id: str, subject: str) -> dict | None:
    doc = await db.timers.find_one({"_id": ticket_id}) or {}
    return next((t for t in doc.get("timers", ()) if isinstance(t, dict) and t.get("subject") == subject), None)


async def test_a_ticket_resolved_while_its_breach_timer_fires_publishes_that_breach_once(
    infra, sla_settings, tap, mongo, monkeypatch
) -> None:
    """The race, made certain: the resolution (restored after the deadline, so the ledger has the breach too) is
    being written when the breach timer fires. One id, published by one path."""
    ticket, t0 = f"T-RB-{uid()}", now()
    clock, db = ManualClock(t0), mongo[sla_settings.database_name]
    app = create(sla_settings, clock=clock)
    save_ledger = store.save_ledger

    async def fire_during_the_write(db_, ticket_id: str, **kw) -> None:
        if ticket_id == ticket and kw["event"]["type"] == "TicketResolved":
            clock.advance(timedelta(seconds=6))  # the restore deadline (t0+5) passes as the resolution is written
            assert await watch.scheduler.fire_due()  # its timer fires (published, acknowledged) right now
        await save_ledger(db_, ticket_id, **kw)

    monkeypatch.setattr(store, "save_ledger", fire_during_the_write)
    async with app.router.lifespan_context(app):
        watch = app.state.runtime.broker.context.get("sla_watch")
        await wait_until(lambda: _owns_all(watch), timeout=30)
        topic = tickets_topic(sla_settings)
        await produce(infra.kafka_bootstrap, topic, opened(ticket, t0, reported=-115))  # gold: restore due t0+5
        await wait_until(lambda: _timers_saved(db, ticket), timeout=30)
        restored = seconds(5.5, t0)
        await produce(
            infra.kafka_bootstrap, topic,
            TicketResolved(ticket_id=ticket, occurred_at=restored, cause="光缆中断", restored_at=restored),
        )  # fmt: skip
        await wait_until(lambda: _status(db, ticket, "resolved"), timeout=30)
        await produce(infra.kafka_bootstrap, sla_topic(sla_settings), SENTINEL, key=ticket.encode())
        await wait_until(lambda: _sentinel_seen(tap), timeout=30)  # all of the ticket's partition before it is in
    assert len(tap.of(ticket, "SlaBreached", "restore")) == 1, tap.summary()


SENTINEL = b'{"type": "sentinel", "event_id": "sentinel", "ticket_id": "-"}'


async def _owns_all(watch) -> bool:
    return len(watch.scheduler.owned) == 3 and not watch.scheduler.loading


async def _timers_saved(db, ticket_id: str) -> bool:
    return bool((await db.timers.find_one({"_id": ticket_id}) or {}).get("timers"))


async def _status(db, ticket_id: str, status: str) -> bool:
    doc = await db.clocks.find_one({"_id": ticket_id}, {"status": 1, PENDING: 1}) or {}
    return doc.get("status") == status and doc.get(PENDING) is False


async def _sentinel_seen(tap) -> bool:
    return any(s.event_id == "sentinel" for s in tap.seen)


async def test_a_partition_that_cannot_load_keeps_retrying_readyz_says_so_and_its_timers_fire_once_it_loads(
    request, infra, settings_for, sla_settings, tap, monkeypatch, http
) -> None:
    local, uri = request.getfixturevalue("private_database")
    settings = settings_for(
        SlaWatchSettings,
        policy_override=FAST_POLICY,
        mongodb_uri=uri,
        mongodb_database=f"{sla_settings.database_name}_own",
        retry_initial_seconds=0.2,
        retry_max_seconds=1.0,
    )
    due = now() + timedelta(seconds=3)
    stored = {f"T-LD{p}-{uid()}": p for p in range(3)}  # a pending breach on every partition
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    try:
        await client[settings.database_name].timers.insert_many(
            [{"_id": t, "partition": p, "timers": [_breach(t, due)], "fired": []} for t, p in stored.items()]
        )
    finally:
        await client.close()
    setup = store.setup

    async def setup_then_outage(runtime) -> None:  # the database goes away before the partitions are assigned
        await setup(runtime)
        await asyncio.to_thread(local.stop_secantus)

    monkeypatch.setattr(store, "setup", setup_then_outage)
    app = create(settings)
    try:
        async with app.router.lifespan_context(app):
            watch = app.state.runtime.broker.context.get("sla_watch")
            await wait_until(lambda: _at_least(app, "huying_sla_watch_partition_load_failures_total", 2), timeout=60)
            assert watch.scheduler.loading and watch.scheduler.pending == 0
            async with http(app) as client_:
                response = await client_.get("/readyz", timeout=15)
            assert response.status_code == 503 and response.json()["checks"]["partitions_loaded"] is False
            await asyncio.to_thread(local.start_secantus)
            await wait_until(lambda: _loaded(watch), timeout=60)
            async with http(app) as client_:
                response = await client_.get("/readyz", timeout=15)
            assert response.status_code == 200 and response.json()["checks"]["partitions_loaded"] is True
            for ticket in stored:
                await tap.wait_for(ticket, "SlaBreached", "restore", timeout=30)
    finally:
        await asyncio.to_thread(local.start_secantus)  # idempotent; the fixture stops it


def _breach(ticket_id: str, due) -> dict:
    timer = Timer(uuid.uuid4(), ticket_id, ClockKind.RESTORE, 1, TimerKind.BREACH, due, due, "test")
    return timer_data(timer)


async def _at_least(app, name: str, count: float) -> bool:
    return metric(app, name) >= count


async def _loaded(watch) -> bool:
    return len(watch.scheduler.owned) == 3 and not watch.scheduler.loading
