"""Cutover notices, provisioning deadlines and quality budgets, for every row and column of DOMAIN.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from huying.events import Category, QualityMeasure, Scope, Tier
from sla_watch.domain import (
    SHANGHAI,
    BudgetState,
    OrderKind,
    ResourceCase,
    budget_state,
    cutover_notice_due,
    order_due,
    prewarning_due,
    quality_budget,
    resource_check_due,
)

from .builders import CALENDAR, FAST_POLICY, POLICY
from .test_sla_calendar import shanghai
from .test_sla_policy import ACCEPTANCE_WD, CELLS, OUTAGE_HOURS, REPEAT_FAULTS, RESTORE_SERVICE_WD

pytestmark = pytest.mark.unit

MONDAY = shanghai(2026, 7, 6, 10)  # no holiday within the next 15 working days


def working_days_after(start: datetime, n: int) -> datetime:
    """24:00 of the nth weekday after `start` (valid in an ordinary week, as MONDAY's are)."""
    day, found = start.astimezone(SHANGHAI).date(), 0
    while found < n:
        day += timedelta(days=1)
        found += day.weekday() < 5
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI).astimezone(UTC)


@pytest.mark.parametrize(("tier", "lead"), [(Tier.GOLD, 7), (Tier.SILVER, 5), (Tier.BRONZE, 4), (Tier.STANDARD, 4)])
def test_cutover_notice_leaves_whole_working_days(tier: Tier, lead: int) -> None:
    cutover = shanghai(2026, 3, 30, 1)  # Monday 01:00
    due = cutover_notice_due(tier=tier, cutover_at=cutover, policy=POLICY, calendar=CALENDAR)
    # N whole working days before Monday 30th: notice before 00:00 of the Nth weekday back.
    expected = {7: shanghai(2026, 3, 19), 5: shanghai(2026, 3, 23), 4: shanghai(2026, 3, 24)}[lead]
    assert due.at == expected and not due.provisional


def test_cutover_notice_counts_across_the_national_day_holiday() -> None:
    # Monday 12 Oct, 7 back: Sat 10 (make-up), Fri 9, Thu 8, (1–7 Oct off) Wed 30, Tue 29, Mon 28 Sept,
    # (25–27 Sept Mid-autumn off) Thu 24 Sept: notice before 24 Sept begins.
    due = cutover_notice_due(tier=Tier.GOLD, cutover_at=shanghai(2026, 10, 12, 2), policy=POLICY, calendar=CALENDAR)
    assert due.at == shanghai(2026, 9, 24)


def test_emergency_cutover_needs_one_day() -> None:
    cutover = shanghai(2026, 3, 30, 1)
    due = cutover_notice_due(tier=Tier.GOLD, cutover_at=cutover, policy=POLICY, calendar=CALENDAR, emergency=True)
    assert due.at == cutover - timedelta(days=1)


@pytest.mark.parametrize(
    ("case", "points", "days"),
    [
        (ResourceCase.AVAILABLE, 1, 2),
        (ResourceCase.CORE_MISSING, 1, 3),
        (ResourceCase.ACCESS_WORK, 1, 2),
        (ResourceCase.ACCESS_WORK, 2, 5),
        (ResourceCase.ACCESS_WORK, 4, 5),
    ],
)
def test_resource_check_replies(case: ResourceCase, points: int, days: int) -> None:
    due = resource_check_due(case=case, received_at=MONDAY, policy=POLICY, calendar=CALENDAR, points=points)
    assert due.at == working_days_after(MONDAY, days)


@pytest.mark.parametrize(("tier", "col"), CELLS)
def test_order_acceptance_and_restore_of_a_stopped_service(tier: Tier, col: int) -> None:
    acceptance = order_due(kind=OrderKind.ACCEPTANCE, start=MONDAY, tier=tier, policy=POLICY, calendar=CALENDAR)
    assert acceptance.at == working_days_after(MONDAY, ACCEPTANCE_WD[col])
    for category in Category:
        for scope, days in RESTORE_SERVICE_WD.items():
            due = order_due(
                kind=OrderKind.RESTORE_SERVICE,
                start=MONDAY,
                tier=tier,
                scope=scope,
                category=category,
                policy=POLICY,
                calendar=CALENDAR,
            )
            assert due.at == working_days_after(MONDAY, days[col])


def test_stop_takes_three_working_days_and_missing_facts_are_an_error() -> None:
    assert order_due(kind=OrderKind.STOP, start=MONDAY, policy=POLICY, calendar=CALENDAR).at == working_days_after(
        MONDAY, 3
    )
    with pytest.raises(ValueError, match="tier"):
        order_due(kind=OrderKind.ACCEPTANCE, start=MONDAY, policy=POLICY, calendar=CALENDAR)


def test_prewarnings() -> None:
    due = shanghai(2026, 3, 30, 18)
    assert prewarning_due(due=due, policy=POLICY, calendar=CALENDAR).at == due - timedelta(days=7)
    assert prewarning_due(due=due, policy=POLICY, calendar=CALENDAR, expedited=True).at == due - timedelta(days=3)
    automatic = prewarning_due(due=due, policy=POLICY, calendar=CALENDAR, automatic=True)
    assert automatic.at == shanghai(2026, 3, 16)  # 10 working days before Monday 30th begin on Monday 16th


def test_working_day_commitments_in_an_unknown_year_are_provisional() -> None:
    due = order_due(kind=OrderKind.STOP, start=shanghai(2026, 12, 30, 10), policy=POLICY, calendar=CALENDAR)
    assert due.provisional and "2027" in due.warning


def test_scaled_policy_runs_working_days_24x7() -> None:
    due = order_due(kind=OrderKind.STOP, start=MONDAY, policy=FAST_POLICY, calendar=CALENDAR)
    assert due.at == MONDAY + timedelta(minutes=72)


@pytest.mark.parametrize(("tier", "col"), CELLS)
def test_quality_budgets_per_line_per_year(tier: Tier, col: int) -> None:
    faults = quality_budget(tier=tier, measure=QualityMeasure.REPEAT_FAULTS, policy=POLICY)
    hours = quality_budget(tier=tier, measure=QualityMeasure.OUTAGE_HOURS, policy=POLICY)
    assert (faults, hours) == (REPEAT_FAULTS[col], OUTAGE_HOURS[col])
    ratio = POLICY.quality_budget.warning_ratio
    assert budget_state(used=faults, budget=faults, warning_ratio=ratio) is BudgetState.WARNING  # "≤ N" allows N
    assert budget_state(used=faults + 1, budget=faults, warning_ratio=ratio) is BudgetState.EXCEEDED
    assert budget_state(used=0, budget=hours, warning_ratio=ratio) is BudgetState.OK


def test_scope_does_not_matter_for_a_stop() -> None:
    a = order_due(kind=OrderKind.STOP, start=MONDAY, scope=Scope.INTER_PROVINCE, policy=POLICY, calendar=CALENDAR)
    assert a.at == order_due(kind=OrderKind.STOP, start=MONDAY, policy=POLICY, calendar=CALENDAR).at
