"""Yearly network quality per service line (表75): which tickets count, how much, and which events they call for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huying.events import QualityBudgetExceeded, QualityBudgetWarning, Tier
from huying.events.sla import QualityMeasure
from sla_watch.domain.quality import Fault, alert_id, budget_alerts, fault_of, used

from .builders import (
    POLICY,
    T0,
    at,
    cancelled,
    closed,
    excluded,
    opened,
    reopened,
    resolved,
    resumed,
    run,
    suspended,
)

pytestmark = pytest.mark.unit

LINE = "L-440100-0001-01"


def fault(ticket: str, hours: float, *, tier: Tier = Tier.GOLD, year: int = 2026) -> Fault:
    return Fault(LINE, year, ticket, tier, hours, T0)


def test_a_resolved_ticket_counts_its_restore_time_without_excluded_and_suspended_time() -> None:
    sla = run(opened(), excluded(30, 10, 20), suspended(40), resumed(70), resolved(100))
    counted = fault_of(sla, service_line_id=LINE, terminal_only=False)
    assert counted is not None
    assert counted.outage_hours == pytest.approx((100 - 10 - 30) / 60)
    assert (counted.year, counted.tier, counted.ticket_id, counted.resolved_at) == (
        2026,
        Tier.GOLD,
        sla.ticket_id,
        at(100),
    )


def test_a_reopened_ticket_is_one_fault_whose_time_runs_until_it_is_restored_again() -> None:
    assert fault_of(run(opened(), resolved(60), reopened(90)), service_line_id=LINE, terminal_only=False) is None
    again = fault_of(
        run(opened(), resolved(60), reopened(90), resolved(120)), service_line_id=LINE, terminal_only=False
    )
    assert again is not None and again.outage_hours == pytest.approx(90 / 60)  # 60 min, then 30 more


@pytest.mark.parametrize(
    "events, line, terminal_only",
    [
        ((opened(),), LINE, False),  # not resolved yet
        ((opened(), cancelled(30)), LINE, False),  # no fault at all
        ((opened(), resolved(30)), None, False),  # no line to count against
        ((opened(), resolved(30)), LINE, True),  # terminal-only (表75 note)
    ],
    ids=["open", "cancelled", "no line", "terminal-only"],
)
def test_tickets_that_count_nothing(events, line, terminal_only) -> None:
    assert fault_of(run(*events), service_line_id=line, terminal_only=terminal_only) is None


def test_a_closed_ticket_still_counts_and_the_year_is_shanghais() -> None:
    assert fault_of(run(opened(), resolved(30), closed(60)), service_line_id=LINE, terminal_only=False) is not None
    new_year = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January 2027 in Shanghai
    sla = run(
        opened(reported=(new_year - T0).total_seconds() / 60), resolved((new_year - T0).total_seconds() / 60 + 30)
    )
    assert fault_of(sla, service_line_id=LINE, terminal_only=False).year == 2027


def test_gold_warns_at_the_fourth_fault_and_is_exceeded_at_the_fifth() -> None:
    # gold: ≤ 4 faults, ≤ 6 h a year; warning at 80 %
    faults = [fault(f"T-{n}", 0.5) for n in range(1, 4)]
    assert budget_alerts(faults[:2], latest=faults[2], policy=POLICY) == []  # 3 of 4 is 75 %
    [warning] = budget_alerts(faults, latest=fault("T-4", 0.5), policy=POLICY)
    assert isinstance(warning, QualityBudgetWarning)
    assert (warning.measure, warning.used, warning.budget, warning.year) == ("repeat_faults", 4, 4, 2026)
    [exceeded] = budget_alerts([*faults, fault("T-4", 0.5)], latest=fault("T-5", 0.5), policy=POLICY)
    assert isinstance(exceeded, QualityBudgetExceeded) and exceeded.used == 5


def test_outage_hours_against_the_tiers_budget_and_a_jump_straight_past_it() -> None:
    [warning] = budget_alerts([], latest=fault("T-1", 10.0, tier=Tier.SILVER), policy=POLICY)  # 10 of 12 h
    assert (warning.type, warning.measure, warning.used, warning.budget) == (
        "QualityBudgetWarning", "outage_hours", 10.0, 12
    )  # fmt: skip
    [exceeded] = budget_alerts([], latest=fault("T-1", 7.0), policy=POLICY)  # gold: 7 > 6 h, no warning first
    assert exceeded.type == "QualityBudgetExceeded" and exceeded.measure == "outage_hours"


def test_the_same_ticket_counted_again_and_other_lines_or_years_change_nothing() -> None:
    mine = [fault(f"T-{n}", 0.1) for n in range(1, 4)]
    others = [replace(fault("X-1", 9), service_line_id="L-other"), fault("Y-1", 9, year=2025)]
    assert budget_alerts([*mine, *others], latest=mine[0], policy=POLICY) == []
    assert used([*mine, mine[0]], QualityMeasure.REPEAT_FAULTS) == 3


@given(st.lists(st.floats(min_value=0, max_value=20), min_size=1, max_size=12), st.sampled_from(list(Tier)))
def test_an_alert_is_one_fact_per_line_year_measure_and_state(hours: list[float], tier: Tier) -> None:
    """Whatever order faults are counted in, each state has one id, and ids never repeat across states."""
    faults = [fault(f"T-{n}", h, tier=tier) for n, h in enumerate(hours)]
    seen: dict = {}
    for n, latest in enumerate(faults):
        for alert in budget_alerts(faults[:n], latest=latest, policy=POLICY):
            state = "exceeded" if isinstance(alert, QualityBudgetExceeded) else "warning"
            assert alert.event_id == alert_id(LINE, 2026, alert.measure, state)
            seen.setdefault(alert.event_id, (alert.measure, state))
            assert alert.used > alert.budget if state == "exceeded" else alert.used <= alert.budget
    assert len(set(seen.values())) == len(seen)
