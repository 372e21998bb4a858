"""Pending timers and ledger transitions: what sla-watch schedules and publishes, with deterministic ids."""

from __future__ import annotations

import pytest

from huying.events import ClockKind, SlaBreached, SlaClockStarted, SlaDeadlineMoved, Tier
from sla_watch.domain import Change, TimerKind, move_reason, pending_timers, sla_event_id, status_at, transitions

from .builders import at, noted, opened, report_submitted, resolved, resumed, run, suspended

pytestmark = pytest.mark.unit

K = ClockKind


def test_a_fresh_gold_full_outage_schedules_its_whole_ladder() -> None:
    sla = run(opened(full_outage=True))
    timers = [(t.due_at, t.clock, t.kind, t.escalation) for t in pending_timers(sla, now=at(0))]
    assert timers == [
        (at(0), K.RESTORE, TimerKind.LEADERSHIP_NOTICE, (0, "leadership")),
        (at(24), K.INTERNAL_PROGRESS, TimerKind.WARNING, None),
        (at(24), K.PROGRESS, TimerKind.PROGRESS_DUE, None),
        (at(30), K.INTERNAL_PROGRESS, TimerKind.BREACH, None),
        (at(30), K.PROGRESS, TimerKind.BREACH, None),
        (at(96), K.RESTORE, TimerKind.WARNING, None),
        (at(120), K.ESCALATION_DIRECTOR, TimerKind.ESCALATION, (1, "director")),
        (at(120), K.RESTORE, TimerKind.BREACH, None),
        (at(180), K.ESCALATION_DEPUTY_GM, TimerKind.ESCALATION, (2, "deputy_gm")),
    ]


def test_paused_and_stopped_clocks_schedule_nothing() -> None:
    assert pending_timers(run(opened(tier=Tier.BRONZE), suspended(5)), now=at(5)) == ()
    done = run(opened(tier=Tier.BRONZE), resolved(10), noted(11))
    # only the duty after restoration (the feedback was given at 11): the internal report, its dormant remediation
    owed = {K.INTERNAL_REPORT, K.REMEDIATION}
    assert {t.clock for t in pending_timers(done, now=at(11))} == owed
    reported = run(opened(tier=Tier.BRONZE), resolved(10), noted(11), report_submitted(12, "internal"))
    assert {t.clock for t in pending_timers(reported, now=at(12))} == set()


def test_warnings_of_clocks_already_past_their_deadline_are_dropped() -> None:
    sla = run(opened(tier=Tier.BRONZE))
    kinds = {t.kind for t in pending_timers(sla, now=at(400)) if t.clock is K.RESTORE}
    assert kinds == {TimerKind.BREACH}


def test_timer_ids_are_deterministic_and_change_with_the_deadline() -> None:
    # Ids depend on the fact (ticket, clock, instance, kind, deadline), not on the events' own ids.
    assert pending_timers(run(opened()), now=at(0)) == pending_timers(run(opened()), now=at(0))
    paused = run(opened(), suspended(10), resumed(20))
    ids = {t.kind: t.timer_id for t in pending_timers(paused, now=at(20)) if t.clock is K.RESTORE}
    assert ids[TimerKind.BREACH] == sla_event_id("T-20260302-000123", K.RESTORE, 1, "breach", at(130))


def test_transitions_walk_a_ticket_through_pause_resume_and_verdicts() -> None:
    s0 = run(opened())
    s1 = run(opened(), suspended(10))
    s2 = run(opened(), suspended(10), resumed(40))
    s3 = run(opened(), suspended(10), resumed(40), resolved(160))
    started = transitions(None, s0)
    assert {(t.clock, t.change) for t in started} == {
        (K.RESTORE, Change.STARTED),
        (K.PROGRESS, Change.STARTED),
        (K.INTERNAL_PROGRESS, Change.STARTED),
    }
    paused = transitions(s0, s1, reason=move_reason(suspended(10)))
    assert [(t.clock, t.change, t.reason, t.deadline) for t in paused] == [
        (K.RESTORE, Change.MOVED, "paused", None),
        (K.PROGRESS, Change.MOVED, "paused", None),
        (K.INTERNAL_PROGRESS, Change.MOVED, "paused", None),
    ]
    resumed_ = transitions(s1, s2, reason="resumed")
    assert [(t.clock, t.deadline) for t in resumed_] == [
        (K.RESTORE, at(150)),
        (K.PROGRESS, at(60)),
        (K.INTERNAL_PROGRESS, at(60)),
    ]
    verdicts = transitions(s2, s3)
    assert [(t.clock, t.change) for t in verdicts] == [
        (K.RESTORE, Change.BREACHED),
        (K.PROGRESS, Change.BREACHED),
        (K.INTERNAL_PROGRESS, Change.BREACHED),
        (K.FEEDBACK, Change.STARTED),
        (K.WRITTEN_REPORT, Change.STARTED),
        (K.INTERNAL_REPORT, Change.STARTED),  # its remediation stays unannounced until the report is missed
    ]
    assert transitions(s3, s3) == ()


def test_transitions_map_onto_the_sla_contract() -> None:
    sla = run(opened())
    started = next(t for t in transitions(None, sla) if t.clock is K.RESTORE)
    event = SlaClockStarted(
        event_id=started.event_id,
        ticket_id=started.ticket_id,
        clock=started.clock,
        policy_version=started.policy_version,
        started_at=started.started_at,
        deadline=started.deadline,
        provisional=started.provisional,
    )
    assert event.deadline == at(120)
    breached = run(opened(), resolved(130))
    t = next(t for t in transitions(sla, breached) if t.clock is K.RESTORE)
    SlaBreached(
        event_id=t.event_id,
        ticket_id=t.ticket_id,
        clock=t.clock,
        policy_version=t.policy_version,
        deadline=t.deadline,
        retroactive=t.retroactive,
    )
    moved = next(t for t in transitions(sla, run(opened(), suspended(5))) if t.clock is K.RESTORE)
    SlaDeadlineMoved(
        event_id=moved.event_id,
        ticket_id=moved.ticket_id,
        clock=moved.clock,
        policy_version=moved.policy_version,
        old_deadline=moved.old_deadline,
        new_deadline=moved.deadline,
        reason=moved.reason,
    )


def test_status_at_reports_elapsed_remaining_and_used_share() -> None:
    restore = run(opened(), suspended(30), resumed(60)).clock(K.RESTORE)
    status = status_at(restore, now=at(90))
    assert status.elapsed_s == 60 * 60 and status.remaining_s == 60 * 60
    assert status.used_ratio == pytest.approx(0.5) and not status.overdue
    assert status_at(restore, now=at(200)).overdue


def test_explain_says_why_each_deadline_is_what_it_is() -> None:
    from sla_watch.domain import explain

    from .builders import excluded

    lines = explain(run(opened(), suspended(30), resumed(60), excluded(70, 40, 80), resolved(150)))
    assert lines[0] == "T-20260302-000123: gold, intra_city, policy 2026.1, resolved"
    restore = next(line for line in lines if line.startswith("restore #1"))
    assert restore == (
        "restore #1: from 2026-03-02 09:15, allowance 2h, not counted (50m in all, suspended 30m, excluded 40m), "
        "deadline 2026-03-02 12:05, met at 2026-03-02 11:45 after 1h 40m"
    )
