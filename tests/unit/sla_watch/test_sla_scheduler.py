"""The in-memory scheduler: due order, once only, partition ownership, stale warnings, failures."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace as dc_replace
from datetime import datetime, timedelta

import pytest

from huying.clock import ManualClock
from huying.events import ClockKind
from sla_watch.domain import Timer, TimerKind, pending_timers
from sla_watch.scheduler import Scheduler
from tests.unit.sla_watch.builders import T0, TICKET, dispatched, opened, run

pytestmark = pytest.mark.unit


class Recorder:
    """A fake publisher: what was fired, in order, and when."""

    def __init__(self, fail: int = 0) -> None:
        self.fired: list[tuple[Timer, datetime]] = []
        self.fail = fail

    async def __call__(self, batch: list[Timer], now: datetime) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("broker away")
        self.fired.extend((t, now) for t in batch)

    @property
    def kinds(self) -> list[tuple[str, str]]:
        return [(t.clock.value, t.kind.value) for t, _ in self.fired]


def ticket_timers() -> tuple[Timer, ...]:
    return pending_timers(run(opened(0), dispatched(0)), now=T0)


def scheduler(clock: ManualClock, recorder: Recorder, **kw) -> Scheduler:
    return Scheduler(fire=recorder, now=clock.now, **kw)


async def drain(s: Scheduler) -> None:
    while await s.fire_due():
        pass


async def test_timers_fire_in_due_order_each_once_when_due() -> None:
    clock, rec = ManualClock(T0), Recorder()
    s = scheduler(clock, rec)
    s.own(0, [(TICKET, list(ticket_timers()))])
    await drain(s)
    assert rec.fired == []
    for _ in range(15):  # a minute at a time, as the wall clock would move
        clock.advance(timedelta(minutes=1))
        await drain(s)
    assert rec.kinds == [
        ("acceptance", "warning"),
        ("acceptance", "breach"),
        ("contact", "warning"),
        ("contact", "breach"),
    ]
    assert [t.due_at for t, _ in rec.fired] == sorted(t.due_at for t, _ in rec.fired)
    s.replace(TICKET, 0, ticket_timers())  # the same timers again (e.g. a redelivered event): no re-fire
    await drain(s)
    assert len(rec.fired) == 4


async def test_a_warning_whose_deadline_passed_is_skipped_and_the_breach_fires_late() -> None:
    clock, rec = ManualClock(T0), Recorder()
    s = scheduler(clock, rec)
    s.own(0, [(TICKET, list(ticket_timers()))])
    clock.advance(timedelta(minutes=11))  # downtime: acceptance warning (8) and deadline (10) both passed
    await drain(s)
    assert ("acceptance", "warning") not in rec.kinds
    assert rec.kinds == [("acceptance", "breach")]
    assert s.skipped_count == 1


async def test_only_owned_partitions_are_timed_and_a_released_one_is_dropped() -> None:
    clock, rec = ManualClock(T0), Recorder()
    s = scheduler(clock, rec)
    s.replace(TICKET, 1, ticket_timers())  # partition 1 is not ours
    assert s.pending == 0
    s.own(0, [(TICKET, list(ticket_timers()))])
    assert s.pending == len(ticket_timers()) and s.owned == {0}
    await s.release([0])
    clock.advance(timedelta(hours=5))
    await drain(s)
    assert rec.fired == [] and s.pending == 0 and s.owned == frozenset()


async def test_events_during_a_load_win_over_the_loaded_timers() -> None:
    clock, rec = ManualClock(T0), Recorder()
    s = scheduler(clock, rec)
    token = s.claim(0)
    s.replace(TICKET, 0, [])  # the ticket's newest event stopped every clock while the load was running
    s.own(0, [(TICKET, list(ticket_timers()))], token)  # the load read the older stored timers
    assert s.pending == 0 and s.loading == frozenset()


async def test_a_stale_load_is_ignored_after_the_partition_was_released() -> None:
    clock, rec = ManualClock(T0), Recorder()
    s = scheduler(clock, rec)
    token = s.claim(0)
    await s.release([0])
    s.own(0, [(TICKET, list(ticket_timers()))], token)
    assert s.pending == 0 and s.owned == frozenset()


async def test_a_failed_firing_pass_puts_the_timers_back_for_the_next() -> None:
    clock, rec = ManualClock(T0), Recorder(fail=1)
    s = scheduler(clock, rec)
    s.own(0, [(TICKET, list(ticket_timers()))])
    clock.advance(timedelta(minutes=9))
    with pytest.raises(ConnectionError):
        await s.fire_due()
    assert rec.fired == []
    await drain(s)
    assert rec.kinds == [("acceptance", "warning")]


async def test_a_paused_scheduler_fires_nothing_until_resumed() -> None:
    clock, rec = ManualClock(T0), Recorder()
    s = scheduler(clock, rec)
    s.own(0, [(TICKET, list(ticket_timers()))])
    await s.pause()
    clock.advance(timedelta(minutes=9))
    assert await s.fire_due() == 0
    s.resume()
    await drain(s)
    assert rec.kinds == [("acceptance", "warning")]


async def test_a_held_scheduler_fires_nothing_through_a_resume_and_fires_late_once_released() -> None:
    clock, rec = ManualClock(T0), Recorder()
    s = scheduler(clock, rec)
    s.own(0, [(TICKET, list(ticket_timers()))])
    s.hold(True)  # a replay of the ticket log is not through: a breach due now may already be answered by it
    clock.advance(timedelta(minutes=9))
    assert await s.fire_due() == 0
    await s.pause()
    s.resume()  # a rebalance's resume does not lift a replay's hold
    assert s.held and await s.fire_due() == 0
    s.hold(False)
    await drain(s)
    assert rec.kinds == [("acceptance", "warning")] and rec.fired[0][1] == T0 + timedelta(minutes=9)


async def test_batches_are_bounded() -> None:
    clock, rec = ManualClock(T0), Recorder()
    s = scheduler(clock, rec, batch=2)
    s.own(0, [(TICKET, list(ticket_timers()))])
    clock.advance(timedelta(minutes=15))
    assert await s.fire_due() == 2
    assert s.next_due() is not None and s.partition_of(TICKET) == 0
    assert {t.clock for t, _ in rec.fired} == {ClockKind.ACCEPTANCE}
    assert all(t.kind in (TimerKind.WARNING, TimerKind.BREACH) for t, _ in rec.fired)


async def test_adopting_in_chunks_keeps_newer_timers_and_stops_when_released() -> None:
    clock, rec = ManualClock(T0), Recorder()
    s = scheduler(clock, rec)
    token = s.claim(0)
    tickets = [
        (f"T-{i}", [dc_replace(t, ticket_id=f"T-{i}", timer_id=uuid.uuid4()) for t in ticket_timers()])
        for i in range(5)
    ]
    s.replace("T-3", 0, [])  # T-3's own event arrived during the load
    await s.adopt(0, tickets, token, chunk=2)
    assert s.pending == 4 * len(ticket_timers()) and s.loading == frozenset()
    token = s.claim(1)
    await s.release([1])
    await s.adopt(1, tickets, token, chunk=2)
    assert s.owned == {0}


async def test_a_withdrawn_breach_waits_for_the_pass_in_flight_and_never_fires_after() -> None:
    """A clock stopping late while its breach timer fires: the ledger's breach (same id) goes out by one path."""
    clock, gate, fired = ManualClock(T0), asyncio.Event(), []

    async def fire(batch, now) -> None:
        await gate.wait()
        fired.extend(t.timer_id for t in batch)

    s = Scheduler(fire=fire, now=clock.now)
    timers = list(ticket_timers())
    breach = next(t for t in timers if t.kind is TimerKind.BREACH)
    s.own(0, [(TICKET, timers)])
    clock.advance(breach.due_at - T0)
    in_flight = asyncio.create_task(s.fire_due())
    await asyncio.sleep(0)
    withdrawing = asyncio.create_task(s.withdraw(TICKET, {breach.timer_id}, then=(0, [])))
    await asyncio.sleep(0.01)
    assert not withdrawing.done()  # waits for the pass that is publishing the breach
    gate.set()
    await in_flight
    assert await withdrawing == {breach.timer_id}  # fired already: the ledger must not send it again
    assert s.pending == 0

    other = [dc_replace(t, ticket_id="T-2", timer_id=uuid.uuid4()) for t in timers]
    s.own(1, [("T-2", other)])
    later = next(t for t in other if t.kind is TimerKind.BREACH)
    assert await s.withdraw("T-2", {later.timer_id}) == set()  # not fired: the ledger sends it, the timer never
    clock.advance(timedelta(hours=5))
    await drain(s)
    assert later.timer_id not in fired and len(fired) > 1
