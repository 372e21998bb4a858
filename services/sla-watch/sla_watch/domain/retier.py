"""A tier change mid-ticket: running clocks re-priced, never made overdue by the change itself (README.md)."""

from __future__ import annotations

from datetime import datetime

from huying.events import ClockKind
from sla_watch.domain.clocks import ESCALATIONS
from sla_watch.domain.inputs import TierChanged
from sla_watch.domain.ledger import TIER_PRICED, Ticket
from sla_watch.domain.pricing import span_for


def change_tier(t: Ticket, e: TierChanged) -> None:
    """Re-price the running tier-dependent clocks for the new tier; start those it adds."""
    if e.tier is t.tier:
        return
    at, old = e.occurred_at, t.tier
    t.tier, t.policy = e.tier, t.book.at(at)
    t.note(at, f"tier {old.value} → {e.tier.value}: running clocks re-priced under policy {t.policy.version}")
    for clock in t.running(*TIER_PRICED):
        span = span_for(clock.kind, tier=t.tier, scope=t.scope, policy=t.policy)
        if span is None:
            t.supersede([clock], at)
            continue
        before = t.price(clock).deadline
        clock.span, clock.policy = span, t.policy
        clock.floor = at if before is None else min(before, at)  # never overdue by the change itself
    if t.status == "open":
        _start_missing(t, at)


def _start_missing(t: Ticket, at: datetime) -> None:
    """Clocks the new tier has and the old one did not: priced from their usual start, floored at the change."""
    for kind in ESCALATIONS:
        if not t.running(kind) and not any(c.kind is kind for c in t.clocks):
            clock = t.start(kind, t.restore_start)
            if clock is not None:
                clock.floor = at
    if not t.running(ClockKind.PROGRESS):
        t.start(ClockKind.PROGRESS, at)
    if t.leadership_notice_at is None and t.full_outage and t.tier in t.policy.escalation.leadership_notice_tiers:
        t.leadership_notice_at = at
