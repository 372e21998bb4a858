"""Each clock of a ticket: when it starts, what stops it, what pauses it, and its verdict."""

from __future__ import annotations

from datetime import timedelta

import pytest

from huying.events import Channel, ClockKind, Scope, Tier
from sla_watch.domain import Outcome, status_at

from .builders import (
    FAST_POLICY,
    T0,
    accepted,
    at,
    confirmed,
    contacted,
    dispatched,
    excluded,
    linked,
    minutes_between,
    noted,
    opened,
    report_requested,
    report_submitted,
    resolved,
    resumed,
    run,
    suspended,
    transferred,
)
from .test_sla_policy import CELLS, RESTORE_HOURS

pytestmark = pytest.mark.unit

K = ClockKind


@pytest.mark.parametrize("scope", list(RESTORE_HOURS))
@pytest.mark.parametrize(("tier", "col"), CELLS)
def test_restore_deadline_for_every_tier_and_scope(scope: Scope, tier: Tier, col: int) -> None:
    sla = run(opened(tier=tier, scope=scope))
    restore = sla.clock(K.RESTORE)
    assert restore.deadline == T0 + timedelta(hours=RESTORE_HOURS[scope][col])
    assert restore.warn_at == T0 + timedelta(hours=RESTORE_HOURS[scope][col] * 0.8)


def test_restore_starts_at_the_alarm_when_it_came_first() -> None:
    sla = run(opened(5, reported=5, alarm=2))
    assert sla.clock(K.RESTORE).started_at == at(2)
    assert sla.clock(K.RESTORE).deadline == at(122)


def test_an_earlier_linked_report_moves_the_restore_start() -> None:
    sla = run(opened(5), linked(20, reported=1))
    assert sla.clock(K.RESTORE).started_at == at(1)
    assert sla.clock(K.ESCALATION_DIRECTOR).started_at == at(1)
    assert any("restore start moved" in note for note in sla.notes)


@pytest.mark.parametrize(("restored", "outcome"), [(119, Outcome.MET), (120, Outcome.MET), (120.01, Outcome.BREACHED)])
def test_restore_is_met_up_to_and_including_the_deadline(restored: float, outcome: Outcome) -> None:
    restore = run(opened(), resolved(restored)).clock(K.RESTORE)
    assert restore.outcome is outcome
    assert restore.elapsed_s == pytest.approx(restored * 60)


def test_an_approved_suspension_pauses_restore_progress_and_escalation_but_not_acceptance() -> None:
    sla = run(opened(), dispatched(1), suspended(2), resumed(32))
    assert sla.clock(K.RESTORE).deadline == at(150)
    assert sla.clock(K.PROGRESS).deadline == at(60)
    assert sla.clock(K.ESCALATION_DIRECTOR).deadline == at(150)
    assert sla.clock(K.ACCEPTANCE).deadline == at(11)
    assert sla.clock(K.CONTACT).deadline == at(16)


def test_a_clock_is_paused_with_no_deadline_until_resumed() -> None:
    sla = run(opened(), suspended(10))
    restore = sla.clock(K.RESTORE)
    assert restore.paused and restore.deadline is None
    status = status_at(restore, now=at(100))
    assert status.paused and status.elapsed_s == 600


@pytest.mark.parametrize(("consent", "approved", "missing"), [(None, "sup", "consent"), ("王伟", None, "approval")])
def test_a_suspension_without_consent_or_approval_is_not_a_pause(consent, approved, missing) -> None:
    sla = run(opened(), suspended(10, consent=consent, approved=approved), resumed(40))
    assert sla.clock(K.RESTORE).deadline == at(120)
    assert any(missing in note and "not a pause" in note for note in sla.notes)


def test_exclusions_extend_restore_only() -> None:
    sla = run(opened(), excluded(50, start=30, end=45), excluded(51, start=40, end=55))
    assert sla.clock(K.RESTORE).deadline == at(145)  # union 30–55
    assert sla.clock(K.ESCALATION_DIRECTOR).deadline == at(120)
    assert sla.clock(K.PROGRESS).deadline == at(30)


def test_each_dispatched_team_has_ten_minutes_to_accept() -> None:
    sla = run(opened(), dispatched(2, "a", "b"), accepted(5, "a"), accepted(15, "b"))
    by_team = {c.subject: c for c in sla.clocks if c.kind is K.ACCEPTANCE}
    assert by_team["a"].outcome is Outcome.MET
    assert by_team["b"].outcome is Outcome.BREACHED and by_team["b"].deadline == at(12)


def test_a_repeated_dispatch_does_not_restart_a_waiting_acceptance_clock() -> None:
    sla = run(opened(), dispatched(2, "a"), dispatched(6, "a"), accepted(11, "a"))
    clocks = [c for c in sla.clocks if c.kind is K.ACCEPTANCE]
    assert len(clocks) == 1 and clocks[0].outcome is Outcome.MET


def test_a_redispatch_after_an_acceptance_breach_starts_a_new_clock() -> None:
    sla = run(opened(), dispatched(2, "a"), dispatched(20, "a", redispatch=True), accepted(25, "a"))
    first, second = (c for c in sla.clocks if c.kind is K.ACCEPTANCE)
    assert first.outcome is Outcome.BREACHED and second.outcome is Outcome.MET
    assert second.started_at == at(20)


def test_a_transfer_starts_the_receiving_teams_acceptance_clock() -> None:
    sla = run(opened(), dispatched(2, "a"), accepted(4, "a"), transferred(30, "a", "core"), accepted(45, "core"))
    core = next(c for c in sla.clocks if c.subject == "core")
    assert core.started_at == at(30) and core.outcome is Outcome.BREACHED


def test_contact_is_due_15_minutes_after_the_first_dispatch() -> None:
    sla = run(opened(), dispatched(3), dispatched(8, "b"), contacted(20, when=17))
    contact = sla.clock(K.CONTACT)
    assert contact.deadline == at(18) and contact.outcome is Outcome.MET


def test_gold_progress_recurs_every_30_minutes_after_each_customer_informed_note() -> None:
    sla = run(opened(), noted(20), noted(35, informed=False), noted(55), noted(100))
    progress = [c for c in sla.clocks if c.kind is K.PROGRESS]
    assert [(c.seq, minutes_between(T0, c.deadline), c.outcome) for c in progress] == [
        (1, 30, Outcome.MET),
        (2, 50, Outcome.BREACHED),
        (3, 85, Outcome.BREACHED),
        (4, 130, Outcome.RUNNING),
    ]


@pytest.mark.parametrize(
    ("tier", "cadence"), [(Tier.GOLD, 30), (Tier.SILVER, 60), (Tier.BRONZE, None), (Tier.STANDARD, None)]
)
def test_progress_cadence_by_tier(tier: Tier, cadence: int | None) -> None:
    progress = run(opened(tier=tier)).clock(K.PROGRESS)
    assert (progress and minutes_between(T0, progress.deadline)) == (cadence or None)


def test_resolution_supersedes_progress_and_starts_feedback() -> None:
    sla = run(opened(), noted(20), resolved(40, restored=38), confirmed(60))
    assert sla.clock(K.PROGRESS).outcome is Outcome.CANCELLED
    feedback = sla.clock(K.FEEDBACK)
    assert feedback.started_at == at(38) and feedback.deadline == at(68) and feedback.outcome is Outcome.MET


def test_a_noc_confirmation_does_not_count_as_telling_the_customer() -> None:
    sla = run(opened(tier=Tier.BRONZE), resolved(40), confirmed(45, method="noc_alarm_cleared"), noted(80))
    assert sla.clock(K.FEEDBACK).outcome is Outcome.BREACHED
    assert sla.clock(K.FEEDBACK).stopped_at == at(80)


def test_gold_written_report_is_due_two_working_days_after_resolution() -> None:
    sla = run(opened(), resolved(60), report_submitted(60 * 24))
    report = sla.clock(K.WRITTEN_REPORT)
    assert report.deadline == at(0) + timedelta(days=3) - timedelta(hours=9, minutes=15)  # Thu 00:00 Shanghai
    assert report.outcome is Outcome.MET


@pytest.mark.parametrize("request_first", [True, False])
def test_silver_written_report_runs_seven_days_only_once_requested(request_first: bool) -> None:
    assert run(opened(tier=Tier.SILVER), resolved(60)).clock(K.WRITTEN_REPORT) is None
    events = [opened(tier=Tier.SILVER), resolved(60), report_requested(30 if request_first else 90)]
    report = run(*events).clock(K.WRITTEN_REPORT)
    assert report.started_at == at(60 if request_first else 90)
    assert report.deadline == at(0) + timedelta(days=8) - timedelta(hours=9, minutes=15)  # 24:00 of day 7


def test_bronze_and_standard_have_no_written_report_clock() -> None:
    for tier in (Tier.BRONZE, Tier.STANDARD):
        assert run(opened(tier=tier), resolved(60), report_requested(70)).clock(K.WRITTEN_REPORT) is None


def test_green_channel_must_be_back_filled_within_the_policy_default() -> None:
    sla = run(opened(channel=Channel.GREEN_CHANNEL), linked(600, reported=590, link="backfill"))
    backfill = sla.clock(K.BACKFILL)
    assert backfill.deadline == at(24 * 60) and backfill.outcome is Outcome.MET
    assert backfill.stopped_at == at(590)
    assert run(opened()).clock(K.BACKFILL) is None


def test_a_backfill_due_stamped_on_the_ticket_wins() -> None:
    sla = run(opened(channel=Channel.GREEN_CHANNEL, backfill_due=at(240)))
    assert sla.clock(K.BACKFILL).deadline == at(240)


def test_escalation_ladder_and_leadership_notice() -> None:
    sla = run(opened(3, full_outage=True))
    assert sla.clock(K.ESCALATION_DIRECTOR).deadline == at(123)
    assert sla.clock(K.ESCALATION_DEPUTY_GM).deadline == at(183)
    assert sla.leadership_notice_at == at(3)
    assert run(opened(tier=Tier.BRONZE, full_outage=True)).leadership_notice_at is None
    assert run(opened(tier=Tier.BRONZE, leadership_notice=True)).leadership_notice_at == at(0)
    assert run(opened(tier=Tier.SILVER)).leadership_notice_at is None


def test_closing_an_unresolved_ticket_stops_restore_at_the_close() -> None:
    from .builders import closed

    sla = run(opened(), dispatched(1), closed(50))
    assert sla.clock(K.RESTORE).stopped_at == at(50) and sla.clock(K.RESTORE).outcome is Outcome.MET
    assert sla.clock(K.ACCEPTANCE).outcome is Outcome.BREACHED  # was overdue at the close
    assert sla.status == "closed"


def test_a_time_scaled_policy_runs_minutes_as_seconds() -> None:
    sla = run(opened(), dispatched(0), resolved(1), policy=FAST_POLICY)
    assert sla.policy_version == "2026.1-fast"
    assert sla.clock(K.ACCEPTANCE).deadline == T0 + timedelta(seconds=10)
    assert sla.clock(K.RESTORE).deadline == T0 + timedelta(minutes=2)
    assert sla.clock(K.WRITTEN_REPORT).deadline == at(1) + timedelta(minutes=48)  # 2 × 24 h / 60, 24×7


def test_no_ticket_no_clocks() -> None:
    assert run(dispatched(1), accepted(2)) is None
