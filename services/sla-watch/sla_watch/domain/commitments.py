"""Commitments outside the fault ticket: cutover notices, provisioning deadlines, yearly quality budgets.

"Within N working days" counts forward: by 24:00 local of the Nth working day after the start date.
"N working days in advance" counts backward: the notice is due before 00:00 local of the Nth working day
before the work's date, so the recipient has N whole working days to prepare (e.g. a Monday cutover with a
1-working-day lead needs notice by Thursday 24:00: Friday is the whole working day).
Calendar days backward ("前一周", "至少提前1天") are simply that long before the instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from huying.events import Category, QualityMeasure, Scope, Tier
from sla_watch.domain.policy import SlaPolicy
from sla_watch.domain.pricing import date_deadline
from sla_watch.domain.spans import Span, Unit
from sla_watch.domain.workdays import WorkingCalendar, unknown_year_warning

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Deadline:
    """An instant something is due, and whether a guessed calendar year went into it."""

    at: datetime
    provisional: bool = False
    warning: str | None = None


class ResourceCase(StrEnum):
    """Which reply deadline a resource check falls under (seed 002 第11–14条)."""

    AVAILABLE = "resources_available"
    CORE_MISSING = "core_missing"
    ACCESS_WORK = "access_work"  # access end needs optimisation or expansion: by number of points


class OrderKind(StrEnum):
    ACCEPTANCE = "acceptance"
    STOP = "stop"
    RESTORE_SERVICE = "restore_service"


def within(span: Span, *, start: datetime, calendar: WorkingCalendar, policy: SlaPolicy) -> Deadline:
    """Forward deadline: `span` after `start` (24×7, calendar days or working days)."""
    if span.is_duration or policy.time_scale != 1:
        return Deadline(start + span.scaled(policy.time_scale))
    at, unknown = date_deadline(span, start=start, calendar=calendar)
    return _deadline(at, unknown)


def ahead_of(span: Span, *, due: datetime, calendar: WorkingCalendar, policy: SlaPolicy) -> Deadline:
    """Backward deadline: the latest instant that is still `span` ahead of `due`."""
    if span.unit is not Unit.WORKING_DAYS or policy.time_scale != 1:
        return Deadline(due - span.scaled(policy.time_scale))  # "前一周", "提前1天": that long before the instant
    found = calendar.count(calendar.local_date(due), int(span.value), step=-1)
    return _deadline(calendar.start_of(found.day), found.unknown_years)


def _deadline(at: datetime, unknown: tuple[int, ...]) -> Deadline:
    return Deadline(at, bool(unknown), unknown_year_warning(unknown) if unknown else None)


def cutover_notice_due(
    *, tier: Tier, cutover_at: datetime, policy: SlaPolicy, calendar: WorkingCalendar, emergency: bool = False
) -> Deadline:
    """Latest notice for a cutover starting at `cutover_at` (7/5/4/4 working days; emergency: 1 day)."""
    rule = policy.cutover_notice
    span = rule.emergency_lead if emergency else rule.lead.span(tier)
    return ahead_of(span, due=cutover_at, calendar=calendar, policy=policy)


def resource_check_due(
    *, case: ResourceCase, received_at: datetime, policy: SlaPolicy, calendar: WorkingCalendar, points: int = 1
) -> Deadline:
    """Reply deadline for a resource check received at `received_at`."""
    rule = policy.provisioning.resource_check
    if case is ResourceCase.ACCESS_WORK:
        span = rule.access_one_point if points <= 1 else rule.access_several_points
    else:
        span = getattr(rule, case.value)
    return within(span, start=received_at, calendar=calendar, policy=policy)


def order_due(
    *,
    kind: OrderKind,
    start: datetime,
    policy: SlaPolicy,
    calendar: WorkingCalendar,
    tier: Tier | None = None,
    scope: Scope | None = None,
    category: Category | None = None,
) -> Deadline:
    """Deadline of an order step: acceptance after completion, stop/cancel, restore of a stopped service."""
    rule = policy.provisioning
    if kind is OrderKind.STOP:
        span = rule.stop
    elif kind is OrderKind.ACCEPTANCE:
        span = rule.acceptance.span(_given(tier, "tier"))
    else:
        table = rule.restore_service[_given(category, "category")]
        span = table.span(_given(scope, "scope"), _given(tier, "tier"))
    return within(span, start=start, calendar=calendar, policy=policy)


def prewarning_due(
    *, due: datetime, policy: SlaPolicy, calendar: WorkingCalendar, expedited: bool = False, automatic: bool = False
) -> Deadline:
    """When an order that may miss `due` must be warned: one week (expedited 3 days; system: 10 working days)."""
    rule = policy.provisioning.prewarning
    span = rule.automatic_before_due if automatic else rule.expedited_before_due if expedited else rule.before_due
    return ahead_of(span, due=due, calendar=calendar, policy=policy)


class BudgetState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    EXCEEDED = "exceeded"


def quality_budget(*, tier: Tier, measure: QualityMeasure, policy: SlaPolicy) -> float:
    """Yearly budget of a service line (表75): repeat faults or outage hours."""
    row = (
        policy.quality_budget.repeat_faults
        if measure is QualityMeasure.REPEAT_FAULTS
        else (policy.quality_budget.outage_hours)
    )
    return row[tier]


def budget_state(*, used: float, budget: float, warning_ratio: float) -> BudgetState:
    """OK, WARNING (ratio reached) or EXCEEDED (over budget: "≤ N" allows N itself)."""
    if used > budget:
        return BudgetState.EXCEEDED
    return BudgetState.WARNING if used >= budget * warning_ratio else BudgetState.OK


def _given(value: _T | None, name: str) -> _T:
    if value is None:
        raise ValueError(f"{name} is required for this deadline")
    return value
