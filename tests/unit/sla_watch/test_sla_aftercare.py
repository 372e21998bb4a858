"""After restoration: the internal fault report every fault owes within 2 working days, the remediation item due 1
working day after a missed report (seed 000 rule 10), and the follow-up call after closure (seed 001 2)-(10))."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from huying.events import ClockKind, SlaClockStarted, Tier
from sla_watch.domain import Change, TimerKind, pending_timers, transitions
from sla_watch.domain.clocks import Outcome
from sla_watch.domain.messages import timer_event, transition_event

from . import builders as b

pytestmark = pytest.mark.unit
K = ClockKind
# T0 is Monday 2026-03-02 09:15 Shanghai; restored at 10:15 the report is due by 24:00 Wednesday (Tue, Wed).
REPORT_DUE = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
REMEDIATION_DUE = datetime(2026, 3, 5, 16, 0, tzinfo=UTC)  # 24:00 Thursday: the working day after the miss


def timers_of(sla, kind, now):
    return {(t.kind, t.due_at) for t in pending_timers(sla, now=now) if t.clock is kind}


@pytest.mark.parametrize("tier", list(Tier))
def test_every_fault_owes_the_internal_report_2_working_days_after_restoration(tier) -> None:
    sla = b.run(b.opened(0, tier=tier), b.resolved(60))
    report = sla.clock(K.INTERNAL_REPORT)
    assert (report.started_at, report.deadline) == (b.at(60), REPORT_DUE)
    started = [tr for tr in transitions(None, sla) if tr.clock is K.INTERNAL_REPORT]
    assert [tr.change for tr in started] == [Change.STARTED]
    # the remediation item waits, unannounced, for the report's deadline
    assert timers_of(sla, K.REMEDIATION, b.at(60)) == {
        (TimerKind.START, REPORT_DUE),
        (TimerKind.WARNING, sla.clock(K.REMEDIATION).warn_at),
        (TimerKind.BREACH, REMEDIATION_DUE),
    }
    assert not [tr for tr in transitions(None, sla) if tr.clock is K.REMEDIATION]


def test_a_report_on_time_cancels_the_remediation_unannounced_and_the_customer_report_is_another_thing() -> None:
    resolved = b.run(b.opened(0), b.resolved(60))
    customer_only = b.run(b.opened(0), b.resolved(60), b.report_submitted(120, "customer"))
    assert customer_only.clock(K.INTERNAL_REPORT).running  # 表74's report does not settle the internal one
    assert customer_only.clock(K.WRITTEN_REPORT).outcome is Outcome.MET
    on_time = b.run(b.opened(0), b.resolved(60), b.report_submitted(120, "internal"))
    assert on_time.clock(K.INTERNAL_REPORT).outcome is Outcome.MET
    assert on_time.clock(K.REMEDIATION).outcome is Outcome.CANCELLED
    assert not timers_of(on_time, K.REMEDIATION, b.at(120))
    events = [transition_event(tr, at=b.at(120)) for tr in transitions(resolved, on_time)]
    assert [(e.type, e.clock) for e in events if e is not None] == [("SlaMet", K.INTERNAL_REPORT)]


def test_a_missed_report_announces_the_remediation_at_the_miss_and_a_remediation_settles_it() -> None:
    resolved = b.run(b.opened(0), b.resolved(60))
    [start] = [t for t in pending_timers(resolved, now=b.at(60)) if t.kind is TimerKind.START]
    event = timer_event(start, fired_at=REPORT_DUE, warning_ratio=None, late_after=1)
    assert isinstance(event, SlaClockStarted) and event.clock is K.REMEDIATION
    assert (event.started_at, event.deadline, event.occurred_at) == (REPORT_DUE, REMEDIATION_DUE, REPORT_DUE)
    miss = b.minutes_between(b.T0, REPORT_DUE)
    late = b.run(b.opened(0), b.resolved(60), b.report_submitted(miss + 60, "internal"))
    assert late.clock(K.INTERNAL_REPORT).outcome is Outcome.BREACHED
    assert late.clock(K.REMEDIATION).running  # the miss happened: the remediation is still owed
    done = b.run(
        b.opened(0),
        b.resolved(60),
        b.report_submitted(miss + 60, "internal"),
        b.report_submitted(miss + 120, "remediation"),
    )
    assert done.clock(K.REMEDIATION).outcome is Outcome.MET
    verdicts = [transition_event(tr, at=b.at(miss + 120)) for tr in transitions(late, done)]
    assert [(e.type, e.clock) for e in verdicts if e is not None] == [("SlaMet", K.REMEDIATION)]


def test_a_remediation_before_the_miss_is_ignored_and_a_reopening_before_it_cancels_both() -> None:
    early = b.run(b.opened(0), b.resolved(60), b.report_submitted(90, "remediation"))
    assert early.clock(K.REMEDIATION).running and any("no remediation owed" in n for n in early.notes)
    reopened = b.run(b.opened(0), b.resolved(60), b.reopened(90))
    assert reopened.clock(K.INTERNAL_REPORT).outcome is Outcome.CANCELLED
    assert reopened.clock(K.REMEDIATION).outcome is Outcome.CANCELLED
    again = b.run(b.opened(0), b.resolved(60), b.reopened(90), b.resolved(120))
    assert [c.seq for c in again.clocks if c.kind is K.INTERNAL_REPORT] == [1, 2]  # one per restoration
    assert again.clock(K.INTERNAL_REPORT).started_at == b.at(120)


def test_a_closed_ticket_without_a_follow_up_reminds_customer_service_after_24_hours() -> None:
    closed = b.run(b.opened(0), b.resolved(60), b.closed(90))
    assert timers_of(closed, K.FOLLOW_UP, b.at(90)) == {
        (TimerKind.WARNING, b.at(90 + 0.8 * 24 * 60)),
        (TimerKind.BREACH, b.at(90 + 24 * 60)),  # the breach is the reminder
    }
    called = b.run(b.opened(0), b.resolved(60), b.closed(90), b.followed_up(300))
    assert called.clock(K.FOLLOW_UP).outcome is Outcome.MET
    before = b.run(b.opened(0), b.resolved(60), b.followed_up(80), b.closed(90))
    assert before.clock(K.FOLLOW_UP) is None  # followed up already: nothing to remind
    reopened = b.run(b.opened(0), b.resolved(60), b.closed(90), b.reopened(120))
    assert reopened.clock(K.FOLLOW_UP).outcome is Outcome.CANCELLED
