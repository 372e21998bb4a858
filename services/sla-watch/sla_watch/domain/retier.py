"""A tier change mid-ticket (TicketTierChanged from dispatch, TicketVerified from intake): running clocks
re-priced, never made overdue by the change itself (README.md)."""

from __future__ import annotations

from datetime import datetime

from huying.events import ClockKind, TicketTierChanged, TicketVerified
from sla_watch.domain.clocks import ESCALATIONS
from sla_watch.domain.inputs import TierChanged
from sla_watch.domain.ledger import TIER_PRICED, Ticket
from sla_watch.domain.pricing import span_for
from sla_watch.domain.severity import mark_severe


def change_tier(t: Ticket, e: TierChanged | TicketTierChanged | TicketVerified) -> None:
    """Re-price the running tier-dependent clocks for the new tier (and scope and line level, when a verification
    brings the line's real facts); start those it adds, and the severe mark if the fault now qualifies."""
    scope = getattr(e, "scope", None) or t.scope
    level = e.assurance_level if isinstance(e, TicketVerified) else t.level
    if isinstance(e, TicketVerified):
        t.grade = e.customer_grade or t.grade
        t.product_family = e.product_family or t.product_family
        t.category = e.category
    if e.tier is t.tier and scope is t.scope and level is t.level:
        mark_severe(t, floor=e.occurred_at)
        return
    at, old, old_scope, old_level = e.occurred_at, t.tier, t.scope, t.assurance_level
    t.tier, t.scope, t.level, t.policy = e.tier, scope, level, t.book.at(at)
    what = f"tier {old.value} → {e.tier.value}" + (
        f", scope {old_scope.value} → {scope.value}" if scope is not old_scope else ""
    )
    if t.assurance_level is not old_level:
        what += f", assurance level {old_level.value} → {t.assurance_level.value}"
    t.note(at, f"{what} ({e.type}): running clocks re-priced under policy {t.policy.version}")
    for clock in t.running(*TIER_PRICED):
        span = span_for(clock.kind, tier=t.tier, scope=t.scope, policy=t.policy, level=t.level)
        if span is None or _report_not_owed(t, clock.kind):
            t.supersede([clock], at)
            continue
        before = t.price(clock).deadline
        clock.span, clock.policy = span, t.policy
        clock.floor = at if before is None else min(before, at)  # never overdue by the change itself
    if t.status == "open":
        _start_missing(t, at)
        mark_severe(t, floor=at)
    elif t.status in ("resolved", "closed"):  # the written report is owed after resolution, closed or not
        _start_owed_report(t, at)


def _report_not_owed(t: Ticket, kind: ClockKind) -> bool:
    """The new tier gives the written report only on request, and nobody asked (e.g. gold → silver)."""
    term = t.policy.written_report.term(t.tier)
    return kind is ClockKind.WRITTEN_REPORT and term is not None and term.on_request and t.report_requested_at is None


def _start_owed_report(t: Ticket, at: datetime) -> None:
    """A resolved ticket moved to a tier that owes the report proactively (e.g. silver → gold): start it now."""
    term = t.policy.written_report.term(t.tier)
    if term is None or term.on_request or t.resolved_at is None or t.running(ClockKind.WRITTEN_REPORT):
        return
    if any(c.kind is ClockKind.WRITTEN_REPORT and c.start >= t.resolved_at for c in t.clocks):
        return  # one report clock per resolution
    clock = t.start(ClockKind.WRITTEN_REPORT, t.resolved_at)
    if clock is not None:
        clock.floor = at  # never overdue by the change itself


def _start_missing(t: Ticket, at: datetime) -> None:
    """Clocks the new tier has and the old one did not: priced from their usual start, floored at the change."""
    for kind in ESCALATIONS:
        if not t.running(kind) and not any(c.kind is kind for c in t.clocks):
            clock = t.start(kind, t.restore_start)
            if clock is not None:
                clock.floor = at
    if not t.running(ClockKind.PROGRESS):
        t.start(ClockKind.PROGRESS, at)
    notice_tiers = t.policy.escalation.leadership_notice_tiers
    if t.leadership_notice_at is None and t.full_outage and t.assurance_level.tier in notice_tiers:
        t.leadership_notice_at = at
