"""Internal duty clocks of seed 000 (DOMAIN.md "Ticket lifecycle and duty rules"), separate from 表73/表74."""

from __future__ import annotations

import pytest
from hypothesis import given

from huying.events import ClockKind, Tier
from sla_watch.domain import Outcome, TimerKind, pending_timers

from . import builders as b
from .builders import FAST_POLICY, at, noted, opened, reopened, resolved, resumed, run, suspended, tier_changed
from .test_sla_properties import PROPERTY, histories

pytestmark = pytest.mark.unit

K = ClockKind


def _internal(sla):
    return [c for c in sla.clocks if c.kind is K.INTERNAL_PROGRESS]


@pytest.mark.parametrize("tier", list(Tier))
def test_every_tier_owes_an_internal_note_30_minutes_after_opening(tier: Tier) -> None:
    sla = run(opened(tier=tier))
    (clock,) = _internal(sla)
    assert (clock.started_at, clock.deadline, clock.budget_s) == (at(0), at(30), 1800)
    timers = {(t.kind, t.due_at) for t in pending_timers(sla, now=at(0)) if t.clock is K.INTERNAL_PROGRESS}
    assert timers == {(TimerKind.WARNING, at(24)), (TimerKind.BREACH, at(30))}  # warns the team, marks the miss


def test_it_starts_when_the_ticket_exists_not_at_an_earlier_report() -> None:
    (clock,) = _internal(run(opened(10, reported=0, alarm=-5)))
    assert clock.started_at == at(10)


def test_a_note_not_told_to_the_customer_resets_it_but_not_the_customer_cadence() -> None:
    sla = run(opened(), noted(20, informed=False))
    first, second = _internal(sla)
    assert (first.outcome, first.stopped_at) == (Outcome.MET, at(20))
    assert (second.started_at, second.deadline, second.running) == (at(20), at(50), True)
    assert sla.clock(K.PROGRESS).deadline == at(30)  # 表73 counts only what the customer is told


def test_a_customer_informed_note_resets_both() -> None:
    sla = run(opened(tier=Tier.SILVER), noted(25))
    assert sla.clock(K.INTERNAL_PROGRESS).deadline == at(55)
    assert sla.clock(K.PROGRESS).deadline == at(85)


def test_bronze_and_standard_have_no_customer_cadence_but_the_internal_one() -> None:
    for tier in (Tier.BRONZE, Tier.STANDARD):
        sla = run(opened(tier=tier), noted(10, informed=False), noted(35, informed=False))
        assert sla.clock(K.PROGRESS) is None
        assert [c.outcome for c in _internal(sla)] == [Outcome.MET, Outcome.MET, Outcome.RUNNING]


def test_a_missed_note_breaches_once_and_the_late_note_closes_it() -> None:
    sla = run(opened(), noted(75, informed=False))
    late, nxt = _internal(sla)
    assert (late.outcome, late.elapsed_s) == (Outcome.BREACHED, 75 * 60)
    assert nxt.deadline == at(105)
    silent = run(opened())
    breaches = [t for t in pending_timers(silent, now=at(200)) if t.clock is K.INTERNAL_PROGRESS]
    assert [t.kind for t in breaches] == [TimerKind.BREACH]


def test_suspension_pauses_it() -> None:
    sla = run(opened(), suspended(10), resumed(40))
    assert sla.clock(K.INTERNAL_PROGRESS).deadline == at(60)
    assert run(opened(), suspended(10)).clock(K.INTERNAL_PROGRESS).paused


def test_resolution_ends_it_and_later_notes_start_nothing_reopen_starts_a_new_one() -> None:
    on_time = run(opened(), resolved(20), noted(25, informed=False))
    assert [c.outcome for c in _internal(on_time)] == [Outcome.CANCELLED]
    overdue = run(opened(), resolved(40))
    assert [c.outcome for c in _internal(overdue)] == [Outcome.BREACHED]
    again = run(opened(), resolved(20), reopened(60))
    assert (again.clock(K.INTERNAL_PROGRESS).started_at, again.clock(K.INTERNAL_PROGRESS).running) == (at(60), True)


def test_a_tier_change_does_not_touch_it() -> None:
    sla = run(opened(tier=Tier.STANDARD), tier_changed(10, Tier.GOLD))
    assert sla.clock(K.INTERNAL_PROGRESS).deadline == at(30)


def test_the_fast_policy_runs_it_in_30_seconds() -> None:
    sla = run(opened(), policy=FAST_POLICY)
    clock = sla.clock(K.INTERNAL_PROGRESS)
    assert (clock.deadline - clock.started_at).total_seconds() == 30


@PROPERTY
@given(histories())
def test_an_open_ticket_always_owes_exactly_one_internal_note_of_30_minutes(events) -> None:
    sla = b.run(*events)
    running = [c for c in _internal(sla) if c.running]
    assert len(running) == (1 if sla.status == "open" else 0)
    assert all(c.budget_s == 1800 for c in _internal(sla))
