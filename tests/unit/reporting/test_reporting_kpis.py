"""The KPI formulas: numerator, denominator and exclusions of each, and the invariants they keep."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huying.events import CauseCategory
from reporting.domain import kpis
from reporting.domain.facts import fold
from tests.unit.reporting.builders import (
    breached,
    cancelled,
    entries,
    gold_fault,
    met,
    opened,
    resolved,
    satisfaction,
    severe,
    started,
)

pytestmark = pytest.mark.unit
OUTCOMES = ("met", "breached", "cancelled", "running")


def facts(*events):
    return fold(entries(*events))


def test_each_rate_is_met_over_due_of_its_own_clock() -> None:
    c = kpis.contributions(facts(*gold_fault()))
    assert c["acceptance_within_10_min"] == {"met": 1, "due": 1}
    assert c["contact_result_within_15_min"] == {"met": 0, "due": 1}
    assert c["restore_within_limit"] == {"met": 1, "due": 1}
    assert c["internal_progress_every_30_min"] == {"met": 0, "due": 0}  # no such clock in this history
    assert c["mttr"] == {"tickets": 1, "seconds": 50 * 60.0}
    assert c["satisfaction"] == {"satisfied": 1, "records": 1}
    assert c["tickets"] == 1


@pytest.mark.parametrize(
    ("formula", "clock"),
    [
        ("acceptance_within_10_min", "acceptance"),
        ("contact_result_within_15_min", "contact"),
        ("internal_progress_every_30_min", "internal_progress"),
        ("customer_cadence", "progress"),
        ("restore_within_limit", "restore"),
        ("cause_and_result_within_30_min", "feedback"),
        ("internal_report_within_2_wd", "internal_report"),
        ("remediation_within_1_wd", "remediation"),
        ("customer_report_on_time", "written_report"),
    ],
)
def test_every_rate_counts_verdicts_only_and_never_a_running_clock(formula: str, clock: str) -> None:
    events = [
        opened("T"),
        started("T", clock, at=0, due=10, seq=1), met("T", clock, at=5, due=10, seq=1),
        started("T", clock, at=10, due=20, seq=2), breached("T", clock, due=20, seq=2),
        started("T", clock, at=20, due=30, seq=3),
    ]  # fmt: skip
    assert kpis.RATES[formula](facts(*events)) == {"met": 1, "due": 2}
    assert kpis.RATES[formula](facts(*events, cancelled("T", at=40))) == {"met": 0, "due": 0}


def test_customer_cadence_is_owed_to_gold_and_silver_only() -> None:
    events = [started("T", "progress", at=0, due=30), met("T", "progress", at=20, due=30)]
    for tier, due in (("gold", 1), ("silver", 1), ("bronze", 0), ("standard", 0)):
        assert kpis.customer_cadence(facts(opened("T", tier=tier), *events))["due"] == due


def test_a_restore_verdict_not_the_operators_is_out_of_the_rate_and_of_mttr() -> None:
    c = kpis.contributions(facts(*gold_fault(cause="interconnection")))
    assert c["restore_within_limit"] == {"met": 0, "due": 0}
    assert c["mttr"] == {"tickets": 0, "seconds": 0.0}


def test_severe_faults_proven_not_the_operators_are_not_counted() -> None:
    assert kpis.severe_faults(facts(*gold_fault(), severe("T-1"))) == {"counted": 1, "total": 1}
    assert kpis.severe_faults(facts(*gold_fault(cause="third_party"), severe("T-1"))) == {"counted": 0, "total": 1}
    assert kpis.severe_faults(facts(*gold_fault())) == {"counted": 0, "total": 0}


def test_satisfaction_counts_only_tickets_with_a_follow_up_record() -> None:
    rated = [facts(opened(f"T-{n}"), satisfaction(f"T-{n}", n % 4 != 0, at=60)) for n in range(8)]
    unrated = [facts(opened(f"U-{n}")) for n in range(5)]
    s = kpis.figures(kpis.totals(kpis.contributions(f) for f in rated + unrated))["satisfaction"]
    assert (s["satisfied"], s["records"], s["rate"], s["percent"]) == (6, 8, 0.75, 75.0)


def test_breaches_are_listed_by_clock_with_the_cause() -> None:
    events = [opened("T"), breached("T", "restore", due=120), breached("T", "contact", due=16)]
    assert sorted(kpis.breaches(facts(*events)), key=str) == [
        {"cause": "unresolved", "clock": "contact"}, {"cause": "unresolved", "clock": "restore"},
    ]  # fmt: skip
    done = facts(*events, resolved("T", restored=200, cause="customer_side"))
    assert {b["cause"] for b in kpis.breaches(done)} == {"customer_side"}


def test_nothing_due_is_no_rate_rather_than_zero_or_one() -> None:
    f = kpis.figures(kpis.totals([]))
    assert f["acceptance_within_10_min"] == {"met": 0, "due": 0, "rate": None}
    assert f["mttr"]["mean_seconds"] is None and f["satisfaction"]["percent"] is None


def test_figures_sum_tickets_and_mean_the_mttr() -> None:
    a = facts(*gold_fault("A"))  # 50 min net
    b = facts(opened("B"), resolved("B", restored=70))  # 70 min
    f = kpis.figures(kpis.totals([kpis.contributions(a), kpis.contributions(b)]))
    assert (f["tickets"], f["mttr"]["tickets"], f["mttr"]["mean_seconds"]) == (2, 2, 60 * 60.0)


verdict = st.tuples(st.sampled_from(OUTCOMES), st.booleans())
ticket = st.tuples(st.lists(verdict, max_size=5), st.sampled_from([*CauseCategory, None]))


def build(ticket_id: str, clocks: list[tuple[str, bool]], cause) -> dict:
    events = [opened(ticket_id)]
    for seq, (outcome, counted) in enumerate(clocks, start=1):
        events.append(started(ticket_id, "restore", at=0, due=120, seq=seq))
        if outcome == "met":
            events.append(met(ticket_id, "restore", at=60, due=120, seq=seq, counted=counted))
        elif outcome == "breached":
            events.append(breached(ticket_id, "restore", due=120, seq=seq, counted=counted))
    events.append(resolved(ticket_id, restored=90, cause=cause))
    return facts(*events)


@settings(max_examples=200, deadline=None)
@given(st.lists(ticket, max_size=8))
def test_every_rate_is_within_zero_and_one(tickets) -> None:
    summed = kpis.totals(kpis.contributions(build(f"T-{n}", *t)) for n, t in enumerate(tickets))
    for name in kpis.RATES:
        r = kpis.figures(summed)[name]["rate"]
        assert r is None or 0 <= r <= 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(ticket, max_size=6),
    st.lists(verdict, max_size=5),
    st.sampled_from([c for c in CauseCategory if c.value not in ("operator_equipment", "operator_work")]),
)
def test_a_ticket_not_the_operators_never_changes_the_restore_rate(tickets, clocks, cause) -> None:  # fmt: skip
    base = [kpis.contributions(build(f"T-{n}", *t)) for n, t in enumerate(tickets)]
    other = kpis.contributions(build("X", clocks, cause))
    with_it = kpis.figures(kpis.totals([*base, other]))
    without = kpis.figures(kpis.totals(base))
    assert with_it["restore_within_limit"] == without["restore_within_limit"]
    assert with_it["mttr"] == without["mttr"]


@settings(max_examples=100, deadline=None)
@given(st.lists(ticket, min_size=1, max_size=6))
def test_a_cancelled_ticket_changes_no_figure(tickets) -> None:
    base = [kpis.contributions(build(f"T-{n}", *t)) for n, t in enumerate(tickets)]
    gone = kpis.contributions(fold(entries(*gold_fault("Z"), cancelled("Z", at=300))))
    assert kpis.figures(kpis.totals([*base, gone])) == kpis.figures(kpis.totals(base))


def test_leaves_name_every_number_of_a_contribution() -> None:
    paths = kpis.leaves(kpis.contributions({}))
    assert "acceptance_within_10_min.met" in paths and "mttr.seconds" in paths and "tickets" in paths
    assert len(paths) == 2 * len(kpis.RATES) + 2 * len(kpis.COUNTS) + 1


def test_a_multi_team_ticket_gives_each_team_its_own_acceptance_and_every_team_the_ticket_wide_clocks() -> None:
    from tests.unit.reporting.builders import dispatched

    f = facts(
        opened("T"), dispatched("T", "gz", "sz"),
        met("T", "acceptance", at=5, due=10, subject="gz"), breached("T", "acceptance", due=10, subject="sz"),
        met("T", "feedback", at=100, due=120),
    )  # fmt: skip
    shares = {s["team"]: s["kpi"] for s in kpis.by_team(f)}
    assert shares["gz"]["acceptance_within_10_min"] == {"met": 1, "due": 1}
    assert shares["sz"]["acceptance_within_10_min"] == {"met": 0, "due": 1}
    assert shares["gz"]["cause_and_result_within_30_min"] == shares["sz"]["cause_and_result_within_30_min"]
    assert kpis.contributions(f)["acceptance_within_10_min"] == {"met": 1, "due": 2}
    assert [s["breaches"] for s in kpis.by_team(f)] == [[], [{"clock": "acceptance", "cause": "unresolved"}]]


def test_a_ticket_without_a_team_has_one_share_that_is_the_whole_ticket() -> None:
    f = facts(*gold_fault())
    f["teams"] = []
    assert kpis.by_team(f) == [{"team": None, "kpi": kpis.contributions(f), "breaches": kpis.breaches(f)}]
