"""Per-line yearly quality against 表75 by the line's assurance level."""

from __future__ import annotations

import pytest

from reporting.domain.facts import fold
from reporting.domain.quality import BUDGETS, against_budget, line_year
from tests.unit.reporting.builders import cancelled, entries, opened, resolved

pytestmark = pytest.mark.unit


def test_the_budgets_are_table_75() -> None:
    assert {k: (v["repeat_faults"], v["outage_hours"]) for k, v in BUDGETS.items()} == {
        "AAA": (4, 6.0), "AA": (6, 12.0), "A": (8, 24.0), "ordinary": (10, 48.0),
    }  # fmt: skip


def test_only_the_operators_resolved_faults_count_each_once() -> None:
    faults = [
        {"ticket_id": "A", **fold(entries(opened("A"), resolved("A", restored=120)))},
        {"ticket_id": "B", **fold(entries(opened("B"), resolved("B", restored=60, cause="customer_side")))},
        {"ticket_id": "C", **fold(entries(opened("C"), cancelled("C", at=10)))},
        {"ticket_id": "D", **fold(entries(opened("D", terminal_only=True), resolved("D", restored=60)))},
        {"ticket_id": "E", **fold(entries(opened("E"), resolved("E", restored=240)))},
    ]
    assert line_year(faults + faults[:1]) == {"repeat_faults": 2, "outage_hours": 6.0}


def test_a_gold_line_with_five_faults_or_seven_hours_is_over_its_budget() -> None:
    state = against_budget("AAA", {"repeat_faults": 5, "outage_hours": 6.0})
    assert (state["repeat_faults"]["exceeded"], state["outage_hours"]["exceeded"]) == (True, False)
    assert against_budget("A", {"repeat_faults": 5, "outage_hours": 7})["repeat_faults"]["exceeded"] is False
    assert against_budget(None, {"outage_hours": 49})["outage_hours"] == {
        "used": 49.0, "budget": 48.0, "exceeded": True, "ratio": 49 / 48,
    }  # fmt: skip
