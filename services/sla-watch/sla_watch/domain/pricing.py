"""From a clock kind, a ticket's tier and scope, and the policy, to an allowance and a deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from huying.events import AssuranceLevel, ClockKind, Scope, Tier
from sla_watch.domain.intervals import Gap, run_until
from sla_watch.domain.policy import SlaPolicy
from sla_watch.domain.spans import Span, Unit
from sla_watch.domain.workdays import WorkingCalendar

_RULES = {
    kind: kind.value
    for kind in (
        ClockKind.ACCEPTANCE,
        ClockKind.CONTACT,
        ClockKind.RESTORE,
        ClockKind.PROGRESS,
        ClockKind.FEEDBACK,
        ClockKind.WRITTEN_REPORT,
        ClockKind.BACKFILL,
        ClockKind.INTERNAL_PROGRESS,
        ClockKind.INTERNAL_REPORT,
        ClockKind.FOLLOW_UP,
    )
}
_RULES[ClockKind.REMEDIATION] = ClockKind.INTERNAL_REPORT.value  # one rule: the report and its remediation


def span_for(
    kind: ClockKind, *, tier: Tier, scope: Scope, policy: SlaPolicy, level: AssuranceLevel | None = None
) -> Span | None:
    """The allowance of `kind` for a ticket of `tier` and `scope`; None where there is no commitment. The restore
    limit reads the line's assurance `level` (表72; default: the tier's), everything else the customer's tier."""
    if kind is ClockKind.RESTORE:
        return policy.restore.within.span(scope, (level or AssuranceLevel.of_tier(tier)).tier)
    if kind is ClockKind.INTERNAL_REPORT:
        return policy.internal_report.within
    if kind is ClockKind.REMEDIATION:
        return policy.internal_report.remediation
    if kind is ClockKind.SEVERITY:
        return None  # its span depends on the customer and the line (replay passes it)
    if kind is ClockKind.PROGRESS:
        return policy.progress.every.span(tier)
    if kind is ClockKind.FEEDBACK:
        return policy.feedback.within.span(tier)
    if kind is ClockKind.WRITTEN_REPORT:
        return policy.written_report.term(tier)
    if kind is ClockKind.ESCALATION_DIRECTOR:
        return policy.escalation.director if tier in policy.escalation.tiers else None
    if kind is ClockKind.ESCALATION_DEPUTY_GM:
        return policy.escalation.deputy_gm if tier in policy.escalation.tiers else None
    return getattr(policy, _RULES[kind]).within  # acceptance, contact, backfill, internal progress, follow-up


def ratio_for(kind: ClockKind, policy: SlaPolicy) -> float | None:
    """Warning ratio of `kind`; escalations have none (they are the alarm themselves)."""
    name = _RULES.get(kind)
    return None if name is None else policy.ratio(getattr(policy, name))


@dataclass(frozen=True, slots=True)
class Priced:
    """A computed deadline: None while paused; `provisional` when a guessed calendar year was used."""

    deadline: datetime | None
    warn_at: datetime | None
    budget_s: float
    provisional: bool = False
    unknown_years: tuple[int, ...] = ()


def date_deadline(span: Span, *, start: datetime, calendar: WorkingCalendar) -> tuple[datetime, tuple[int, ...]]:
    """24:00 local of the Nth (working) day after the local date of `start`; and any guessed years."""
    day = calendar.local_date(start)
    if span.unit is Unit.DAYS:
        return calendar.end_of(day + timedelta(days=int(span.value))), ()
    found = calendar.count(day, int(span.value))
    return calendar.end_of(found.day), found.unknown_years


def deadline_for(
    span: Span,
    *,
    start: datetime,
    gaps: tuple[Gap, ...] = (),
    scale: Fraction = Fraction(1),
    calendar: WorkingCalendar,
    ratio: float | None = None,
    floor: datetime | None = None,
) -> Priced:
    """Deadline and warning point of a clock started at `start` whose `gaps` do not count."""
    if span.is_duration or scale != 1:
        budget = span.scaled(scale)  # a scaled (test) policy runs date-based spans 24×7
        deadline = run_until(start, budget, gaps)
        warn = None if ratio is None or deadline is None else run_until(start, budget * ratio, gaps)
        unknown: tuple[int, ...] = ()
    else:  # date-based clocks never pause: no clock of theirs is paused by suspension
        deadline, unknown = date_deadline(span, start=start, calendar=calendar)
        budget = deadline - start
        warn = None if ratio is None else start + budget * ratio
    if floor is not None and deadline is not None and deadline < floor:
        deadline = floor
    return Priced(deadline, warn, budget.total_seconds(), bool(unknown), unknown)


def fixed_deadline(deadline: datetime, *, start: datetime, ratio: float | None) -> Priced:
    """A deadline given by the ticket itself (TicketOpened.backfill_due)."""
    budget = max(deadline - start, timedelta(0))
    return Priced(deadline, None if ratio is None else start + budget * ratio, budget.total_seconds())
