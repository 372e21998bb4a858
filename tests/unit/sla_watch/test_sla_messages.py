"""Timers and transitions → huying.sla.v1 events: ids, due times, lateness, the fields the contract needs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from huying.events import EscalationRaised, ProgressUpdateDue, SlaBreached, SlaClockStarted, SlaMet, SlaWarning
from sla_watch.domain import pending_timers, transitions
from sla_watch.domain.messages import timer_event, transition_event
from tests.unit.sla_watch.builders import T0, accepted, at, dispatched, opened, run

pytestmark = pytest.mark.unit


def timers(*events):
    return {(t.clock.value, t.kind.value): t for t in pending_timers(run(*events), now=T0)}


def test_a_fired_timer_is_the_fact_at_its_due_time_under_the_timer_id() -> None:
    breach = timers(opened(0), dispatched(0))[("acceptance", "breach")]
    event = timer_event(breach, fired_at=breach.due_at + timedelta(seconds=0.2), warning_ratio=None, late_after=1)
    assert isinstance(event, SlaBreached)
    assert (event.event_id, event.occurred_at, event.deadline) == (breach.timer_id, at(10), at(10))
    assert event.late_by_seconds is None and event.subject == "gz-access-ops"


def test_a_timer_fired_after_downtime_is_marked_late() -> None:
    breach = timers(opened(0), dispatched(0))[("acceptance", "breach")]
    event = timer_event(breach, fired_at=at(25), warning_ratio=None, late_after=1)
    assert event.late_by_seconds == 900 and event.event_id == breach.timer_id


def test_each_timer_kind_maps_to_its_event() -> None:
    found = timers(opened(0, full_outage=True, leadership_notice=True), dispatched(0))
    made = {k: timer_event(t, fired_at=t.due_at, warning_ratio=0.8, late_after=1) for k, t in found.items()}
    assert isinstance(made[("acceptance", "warning")], SlaWarning)
    assert made[("acceptance", "warning")].used_ratio == 0.8
    assert isinstance(made[("progress", "progress_due")], ProgressUpdateDue)
    assert made[("progress", "progress_due")].due_at == at(30)
    director = made[("escalation_director", "escalation")]
    assert isinstance(director, EscalationRaised) and (director.level, director.audience) == (1, "director")
    notice = made[("restore", "leadership_notice")]
    assert (notice.level, notice.audience) == (0, "leadership")


def test_transitions_become_started_and_met_and_cancelled_ones_nothing() -> None:
    before = run(opened(0), dispatched(0))
    after = run(opened(0), dispatched(0), accepted(3))
    started = [transition_event(t, at=at(0)) for t in transitions(None, before)]
    assert all(isinstance(e, SlaClockStarted) for e in started if e is not None)
    met = [transition_event(t, at=at(3)) for t in transitions(before, after)]
    assert [type(e) for e in met] == [SlaMet]
    assert met[0].subject == "gz-access-ops" and met[0].elapsed_seconds == 180
