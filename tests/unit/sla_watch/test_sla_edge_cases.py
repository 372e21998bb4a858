"""The decided edge cases (domain/README.md): reopen, back-fill, order, cancellation, tier and policy changes."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from huying.events import Channel, ClockKind, Scope, TicketTierChanged, TicketVerified, Tier
from sla_watch.domain import Outcome, PolicyBook, TimerKind, pending_timers, transitions

from .builders import (
    POLICY,
    T0,
    _common,
    accepted,
    at,
    cancelled,
    closed,
    confirmed,
    dispatched,
    noted,
    opened,
    reopened,
    report_requested,
    resolved,
    resumed,
    run,
    suspended,
    tier_changed,
)

pytestmark = pytest.mark.unit

K = ClockKind


def test_reopen_continues_the_restore_clock_from_the_time_already_spent() -> None:
    sla = run(opened(), resolved(60), confirmed(70), closed(80), reopened(200))
    restore = sla.clock(K.RESTORE)
    assert restore.running and restore.seq == 1
    assert restore.deadline == at(260)  # 60 min spent, 60 left from the reopening
    assert restore.gaps == ((at(60), at(200)),)
    assert sla.clock(K.ESCALATION_DIRECTOR).deadline == at(260)
    assert sla.clock(K.PROGRESS).started_at == at(200)
    assert sla.status == "open"


def test_reopening_a_breached_clock_raises_no_second_breach() -> None:
    before = run(opened(), resolved(150), confirmed(160))
    after = run(opened(), resolved(150), confirmed(160), reopened(300))
    assert before.clock(K.RESTORE).outcome is Outcome.BREACHED
    restore = after.clock(K.RESTORE)
    assert restore.deadline == before.clock(K.RESTORE).deadline == at(120)
    breach = [t for t in pending_timers(after, now=at(300)) if t.clock is K.RESTORE]
    stop_breach = [t for t in transitions(None, before) if t.clock is K.RESTORE and t.change == "breached"]
    assert [t.kind for t in breach] == [TimerKind.BREACH]  # no warning: its deadline is long past
    assert breach[0].timer_id == stop_breach[0].event_id  # same id: downstream de-duplicates
    moved = transitions(before, after)
    assert [(t.clock, t.change, t.reason) for t in moved if t.clock is K.RESTORE] == [(K.RESTORE, "moved", "reopened")]


def test_reopen_supersedes_feedback_and_the_next_resolution_starts_new_instances() -> None:
    sla = run(opened(), resolved(60), reopened(70), resolved(100), confirmed(110))
    feedback = [c for c in sla.clocks if c.kind is K.FEEDBACK]
    assert [(c.seq, c.outcome) for c in feedback] == [(1, Outcome.CANCELLED), (2, Outcome.MET)]
    reports = [c for c in sla.clocks if c.kind is K.WRITTEN_REPORT]
    assert [(c.seq, c.outcome) for c in reports] == [(1, Outcome.CANCELLED), (2, Outcome.RUNNING)]


def test_a_backfilled_ticket_past_its_deadline_breaches_once_and_retroactively() -> None:
    # Green channel: the call at T0, the ticket created 5 hours later, service still down.
    sla = run(opened(300, reported=0, channel=Channel.GREEN_CHANNEL), dispatched(301))
    restore = sla.clock(K.RESTORE)
    assert restore.deadline == at(120) and restore.retroactive
    timers = pending_timers(sla, now=at(301))
    restore_timers = [t for t in timers if t.clock is K.RESTORE]
    assert [(t.kind, t.retroactive) for t in restore_timers] == [(TimerKind.BREACH, True)]
    assert not any(t.kind is TimerKind.WARNING and t.clock is K.RESTORE for t in timers)
    assert not sla.clock(K.ACCEPTANCE).retroactive  # dispatched after creation: an ordinary clock


def test_a_backfilled_ticket_already_restored_reports_one_retroactive_breach() -> None:
    sla = run(opened(300, reported=0), resolved(301, restored=200))
    changes = [(t.change, t.retroactive) for t in transitions(None, sla) if t.clock is K.RESTORE]
    assert changes == [("started", True), ("breached", True)]
    assert not [t for t in pending_timers(sla, now=at(301)) if t.clock is K.RESTORE]


def test_replay_ignores_arrival_order_and_redelivery() -> None:
    events = [
        opened(),
        dispatched(1, "a"),
        accepted(4, "a"),
        noted(20),
        suspended(30),
        resumed(50),
        noted(60),
        resolved(90),
        confirmed(95),
        closed(100),
    ]
    expected = run(*events)
    shuffled = events + events[2:5]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert run(*shuffled) == expected


def test_same_instant_events_follow_the_ticket_life() -> None:
    sla = run(resumed(30), suspended(30), opened())
    assert sla.clock(K.RESTORE).deadline == at(120)  # suspended then resumed at once: no pause, no open pause


def test_cancellation_cancels_every_running_clock_and_silences_later_events() -> None:
    sla = run(opened(channel=Channel.GREEN_CHANNEL), dispatched(1), cancelled(200), resolved(210))
    assert all(c.outcome is Outcome.CANCELLED for c in sla.clocks)
    assert pending_timers(sla, now=at(200)) == ()
    assert any("after cancellation" in note for note in sla.notes)


def test_duplicate_opening_and_stray_events_are_noted_not_applied() -> None:
    sla = run(
        opened(), opened(5, tier=Tier.BRONZE), accepted(6, "ghost"), resumed(7), reopened(8), resolved(9), resolved(10)
    )
    assert sla.tier is Tier.GOLD
    assert len(sla.notes) == 5


def test_upgrade_reprices_running_clocks_from_their_start() -> None:
    sla = run(opened(tier=Tier.SILVER), tier_changed(20, Tier.GOLD))
    assert sla.tier is Tier.GOLD
    assert sla.clock(K.RESTORE).deadline == at(120)  # gold 2 h from the report
    assert sla.clock(K.PROGRESS).deadline == at(30)


def test_an_upgrade_never_makes_a_clock_overdue_before_the_change() -> None:
    sla = run(opened(tier=Tier.SILVER), tier_changed(150, Tier.GOLD))
    assert sla.clock(K.RESTORE).deadline == at(150)  # due at once, not retroactively at 120
    late = run(opened(tier=Tier.SILVER), noted(10), tier_changed(150, Tier.GOLD))
    assert late.clock(K.PROGRESS).deadline == at(70)  # already overdue under silver: keeps that deadline


def test_the_wire_events_change_the_tier_as_the_engine_input_does() -> None:
    common = {"customer_id": "C-1"}
    by_dispatch = TicketTierChanged(
        **_common(20), **common, tier=Tier.GOLD, previous_tier=Tier.SILVER, crm_revision=3, producer="dispatch"
    )
    by_hand = run(opened(tier=Tier.SILVER), tier_changed(20, Tier.GOLD))
    wired = run(opened(tier=Tier.SILVER), by_dispatch)
    assert wired.clocks == by_hand.clocks and wired.tier is Tier.GOLD
    assert "TicketTierChanged" in wired.notes[-1]


def test_a_verification_brings_the_tier_and_the_lines_real_scope() -> None:
    verified = TicketVerified(
        **_common(20), customer_id="C-1", service_line_id="L-1", tier=Tier.SILVER, scope=Scope.INTER_PROVINCE,
        category="access", previous_tier=Tier.STANDARD, producer="intake",
    )  # fmt: skip
    sla = run(opened(tier=Tier.STANDARD), verified)
    assert (sla.tier, sla.scope) == (Tier.SILVER, Scope.INTER_PROVINCE)
    assert sla.clock(K.RESTORE).deadline == at(5 * 60)  # silver inter-province: 5 h (表72)
    same = TicketVerified(**{**verified.model_dump(), **_common(30), "tier": Tier.STANDARD, "scope": Scope.INTRA_CITY})
    assert run(opened(tier=Tier.STANDARD), same).clocks == run(opened(tier=Tier.STANDARD)).clocks  # nothing changed


def test_downgrade_drops_the_progress_cadence_and_upgrade_from_bronze_adds_it() -> None:
    down = run(opened(tier=Tier.GOLD), tier_changed(10, Tier.BRONZE))
    assert down.clock(K.PROGRESS).outcome is Outcome.CANCELLED
    assert down.clock(K.RESTORE).deadline == at(360)
    up = run(opened(tier=Tier.BRONZE, full_outage=True), tier_changed(10, Tier.GOLD))
    assert up.clock(K.PROGRESS).started_at == at(10) and up.clock(K.PROGRESS).deadline == at(40)
    assert up.leadership_notice_at == at(10)


def test_a_clock_started_during_a_suspension_runs_from_the_resume_and_is_announced_then() -> None:
    paused = run(opened(tier=Tier.BRONZE), suspended(5), tier_changed(10, Tier.GOLD))
    running = run(opened(tier=Tier.BRONZE), suspended(5), tier_changed(10, Tier.GOLD), resumed(40))
    assert paused.clock(K.PROGRESS).started_at == at(10) and paused.clock(K.PROGRESS).paused
    assert running.clock(K.PROGRESS).deadline == at(70)
    assert not [t for t in transitions(None, paused) if t.clock is K.PROGRESS]
    started = [(t.change, t.deadline) for t in transitions(paused, running) if t.clock is K.PROGRESS]
    assert started == [("started", at(70))]


def test_a_ticket_keeps_the_policy_version_it_was_opened_under() -> None:
    newer = POLICY.model_copy(
        update={
            "version": "2026.2",
            "effective_from": T0 + timedelta(hours=1),
            "restore": POLICY.restore.model_copy(update={"warning_ratio": 0.5}),
        }
    )
    book = PolicyBook((POLICY, newer))
    old_ticket = run(opened(), resolved(30), policy=book)
    assert old_ticket.policy_version == "2026.1"
    assert old_ticket.clock(K.RESTORE).warn_at == at(96)
    new_ticket = run(opened(90), policy=book)
    assert new_ticket.policy_version == "2026.2" and new_ticket.clock(K.RESTORE).warn_at == at(150)
    changed = run(opened(), tier_changed(90, Tier.SILVER), policy=book)
    assert changed.policy_version == "2026.2"  # the tier change re-prices under the policy in force then
    assert changed.clock(K.RESTORE).warn_at == at(120)


def test_resolution_ends_an_open_suspension() -> None:
    sla = run(opened(), suspended(10), resolved(40), reopened(50))
    assert sla.clock(K.RESTORE).deadline == at(50 + 120 - 10)


def test_a_tier_gaining_the_escalation_ladder_prices_it_from_the_restore_start() -> None:
    escalation = POLICY.escalation.model_copy(update={"tiers": frozenset({Tier.GOLD, Tier.SILVER})})
    policy = POLICY.model_copy(update={"version": "2026.1-site", "escalation": escalation})
    bronze = run(opened(tier=Tier.BRONZE), policy=policy)
    assert bronze.clock(K.ESCALATION_DIRECTOR) is None
    early = run(opened(tier=Tier.BRONZE), tier_changed(30, Tier.SILVER), policy=policy)
    assert early.clock(K.ESCALATION_DIRECTOR).deadline == at(120)
    late = run(opened(tier=Tier.BRONZE), tier_changed(150, Tier.SILVER), policy=policy)
    assert late.clock(K.ESCALATION_DIRECTOR).deadline == at(150)  # due at the change, not retroactively
    assert late.clock(K.ESCALATION_DEPUTY_GM).deadline == at(180)


def test_events_of_another_ticket_are_noted_and_ignored() -> None:
    stray = resolved(10).model_copy(update={"ticket_id": "T-other"})
    sla = run(opened(), stray)
    assert sla.clock(K.RESTORE).running
    assert any("T-other" in note for note in sla.notes)


def test_a_downgrade_after_resolution_cancels_a_report_the_new_tier_owes_only_on_request() -> None:
    sla = run(opened(tier=Tier.GOLD), resolved(60), tier_changed(90, Tier.SILVER))
    assert sla.clock(K.WRITTEN_REPORT).outcome is Outcome.CANCELLED
    asked = run(opened(tier=Tier.GOLD), resolved(60), report_requested(70), tier_changed(90, Tier.SILVER))
    assert asked.clock(K.WRITTEN_REPORT).outcome is Outcome.RUNNING  # requested: silver's 7 days apply


def test_an_upgrade_after_resolution_starts_the_proactive_report_without_making_it_overdue() -> None:
    silver = run(opened(tier=Tier.SILVER), resolved(60))
    assert not [c for c in silver.clocks if c.kind is K.WRITTEN_REPORT]
    gold = run(opened(tier=Tier.SILVER), resolved(60), tier_changed(90, Tier.GOLD))
    report = gold.clock(K.WRITTEN_REPORT)
    assert report.outcome is Outcome.RUNNING and report.started_at == at(60)
    assert report.deadline >= at(90)
