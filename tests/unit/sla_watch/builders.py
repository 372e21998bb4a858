"""Test helpers: the real policy and calendar, and one-line builders for a ticket's events (minutes from T0)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from huying.events import (
    Category,
    Channel,
    CustomerContacted,
    ExclusionKind,
    ExclusionRecorded,
    FaultReportRequested,
    FaultReportSubmitted,
    ProgressNoted,
    ReportLinked,
    RestorationConfirmed,
    SatisfactionRecorded,
    Scope,
    TicketAccepted,
    TicketCancelled,
    TicketClosed,
    TicketDispatched,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketResumed,
    TicketSuspended,
    TicketTransferred,
    Tier,
)
from sla_watch.domain import TierChanged, replay
from sla_watch.policy_loader import DEFAULT_POLICY, load_calendar, load_policy

POLICY = load_policy()
FAST_POLICY = load_policy(override=DEFAULT_POLICY.parent / "sla-policy.fast.yaml")
CALENDAR = load_calendar()
T0 = datetime(2026, 3, 2, 1, 15, tzinfo=UTC)  # Monday 09:15 in Shanghai, an ordinary working day
TICKET = "T-20260302-000123"
_ids = itertools.count(1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _common(minutes: float) -> dict:
    # Deterministic ids keep failures reproducible; uniqueness is all replay needs.
    return {"ticket_id": TICKET, "occurred_at": at(minutes), "event_id": f"00000000-0000-4000-8000-{next(_ids):012d}"}


def opened(
    minutes: float = 0,
    *,
    tier: Tier = Tier.GOLD,
    scope: Scope = Scope.INTRA_CITY,
    channel: Channel = Channel.HOTLINE,
    reported: float | None = None,
    alarm: float | None = None,
    **kw,
) -> TicketOpened:
    return TicketOpened(
        **_common(minutes),
        source_system="10086-cc",
        external_id="CC-1",
        channel=channel,
        tier=tier,
        scope=scope,
        category=kw.pop("category", Category.ACCESS),
        reported_at=at(minutes if reported is None else reported),
        alarm_at=None if alarm is None else at(alarm),
        **kw,
    )


def dispatched(minutes: float, *teams: str, redispatch: bool = False) -> TicketDispatched:
    return TicketDispatched(**_common(minutes), teams=list(teams or ["gz-access-ops"]), redispatch=redispatch)


def accepted(minutes: float, team: str = "gz-access-ops") -> TicketAccepted:
    return TicketAccepted(**_common(minutes), team=team)


def transferred(minutes: float, from_team: str, to_team: str) -> TicketTransferred:
    return TicketTransferred(**_common(minutes), from_team=from_team, to_team=to_team, reason="核心网故障")


def contacted(minutes: float, when: float | None = None) -> CustomerContacted:
    return CustomerContacted(**_common(minutes), contacted_at=at(minutes if when is None else when), method="phone")


def noted(minutes: float, *, informed: bool = True) -> ProgressNoted:
    return ProgressNoted(**_common(minutes), note="抢修中", customer_informed=informed)


def suspended(
    minutes: float, *, consent: str | None = "王伟", approved: str | None = "sup-prov-003"
) -> TicketSuspended:
    return TicketSuspended(**_common(minutes), reason="客户机房断电", consent_by=consent, approved_by=approved)


def resumed(minutes: float) -> TicketResumed:
    return TicketResumed(**_common(minutes))


def excluded(minutes: float, start: float, end: float) -> ExclusionRecorded:
    return ExclusionRecorded(
        **_common(minutes),
        kind=ExclusionKind.INTERCONNECTION,
        start=at(start),
        end=at(end),
        reason="对端运营商传输故障",
    )


def resolved(minutes: float, restored: float | None = None, *, cause_category=None) -> TicketResolved:
    return TicketResolved(
        **_common(minutes),
        cause="光缆被挖断",
        restored_at=at(minutes if restored is None else restored),
        cause_category=cause_category,
    )


def confirmed(minutes: float, method: str = "customer") -> RestorationConfirmed:
    return RestorationConfirmed(**_common(minutes), method=method)


def closed(minutes: float) -> TicketClosed:
    return TicketClosed(**_common(minutes))


def reopened(minutes: float) -> TicketReopened:
    return TicketReopened(**_common(minutes), reason="客户反馈仍无法访问")


def cancelled(minutes: float) -> TicketCancelled:
    return TicketCancelled(**_common(minutes), reason="重复报障")


def report_submitted(minutes: float, kind: str = "customer") -> FaultReportSubmitted:
    return FaultReportSubmitted(**_common(minutes), document_ref="FR-1", kind=kind)


def followed_up(minutes: float) -> SatisfactionRecorded:
    return SatisfactionRecorded(**_common(minutes), satisfied=True, called_by="cs-01", method="phone")


def report_requested(minutes: float) -> FaultReportRequested:
    return FaultReportRequested(**_common(minutes), requested_by="王伟")


def tier_changed(minutes: float, tier: Tier) -> TierChanged:
    return TierChanged(event_id=f"tier-{next(_ids)}", occurred_at=at(minutes), tier=tier)


def linked(minutes: float, reported: float, link: str = "same_line") -> ReportLinked:
    return ReportLinked(
        **_common(minutes),
        source_system="nms",
        external_id="NMS-1",
        channel=Channel.MONITORING,
        reported_at=at(reported),
        link=link,
    )


def run(*events, policy=POLICY, calendar=CALENDAR):
    """Replay `events` with the shipped policy and calendar."""
    return replay(events, policy=policy, calendar=calendar)


def minutes_between(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60
