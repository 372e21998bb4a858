"""ticket_facts: the fold of a ticket's events into what the KPIs read."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.domain.entries import entry_of
from reporting.domain.facts import fold
from tests.unit.reporting.builders import (
    T0,
    breached,
    cancelled,
    closed,
    entries,
    gold_fault,
    met,
    minutes,
    moved,
    opened,
    reopened,
    resolved,
    severe,
    started,
)

pytestmark = pytest.mark.unit


def clock(facts: dict, name: str) -> dict:
    return next(c for c in facts["clocks"] if c["clock"] == name)


def test_a_gold_fault_keeps_its_snapshot_teams_times_and_clock_outcomes() -> None:
    f = fold(entries(*gold_fault()))
    assert (f["tier"], f["assurance_level"], f["scope"], f["category"], f["city"]) == (
        "gold", "AAA", "intra_city", "access", "广州",
    )  # fmt: skip
    assert (f["customer_id"], f["service_line_id"], f["channel"], f["teams"]) == (
        "C-01", "L-01", "hotline", ["gz-access-ops"],
    )  # fmt: skip
    assert (f["reported_at"], f["restored_at"], f["closed_at"], f["status"]) == (T0, minutes(100), minutes(130),
                                                                                 "closed")  # fmt: skip
    assert clock(f, "acceptance")["outcome"] == "met" and clock(f, "acceptance")["subject"] == "gz-access-ops"
    assert clock(f, "contact")["outcome"] == "breached"
    assert (clock(f, "restore")["outcome"], clock(f, "restore")["counted"]) == ("met", True)
    assert (f["month"], f["quarter"], f["day"], f["quality_year"]) == ("2026-03", "2026-Q1", "2026-03-02", 2026)


def test_suspended_and_excluded_time_is_not_counted_in_the_restore_time() -> None:
    f = fold(entries(*gold_fault()))
    assert (f["suspended_seconds"], f["excluded_seconds"]) == (20 * 60, 30 * 60)
    assert (f["restore_gross_seconds"], f["restore_net_seconds"]) == (100 * 60, 50 * 60)


def test_overlapping_suspension_and_exclusion_count_once() -> None:
    events = [opened("T"), *[e for e in gold_fault("T") if e.type in ("TicketSuspended", "TicketResumed")]]
    from tests.unit.reporting.builders import excluded

    f = fold(entries(*events, excluded("T", 30, 60), resolved("T", restored=100)))
    assert f["restore_net_seconds"] == (100 - 40) * 60  # suspended 20–40, excluded 30–60: 40 minutes not counted


def test_the_time_between_a_restoration_and_a_reopening_is_not_counted() -> None:
    events = [opened("T"), resolved("T", restored=30), reopened("T", at=90), resolved("T", restored=120, at=121)]
    f = fold(entries(*events))
    assert (f["reopened"], f["restored_at"], f["restore_net_seconds"]) == (1, minutes(120), 60 * 60)


def test_a_reopened_ticket_has_no_restoration_until_it_is_restored_again() -> None:
    f = fold(entries(opened("T"), resolved("T", restored=30), reopened("T", at=90)))
    assert (f["status"], f["restored_at"], f["restore_net_seconds"]) == ("open", None, None)


def test_the_restore_clock_starts_at_the_earlier_alarm() -> None:
    f = fold(entries(opened("T", alarm_at=minutes(-10)), resolved("T", restored=50)))
    assert (f["outage_started_at"], f["restore_net_seconds"]) == (minutes(-10), 60 * 60)


def test_a_fault_not_the_operators_does_not_count_its_restore_verdict_nor_its_severity() -> None:
    events = [*gold_fault("T", cause="customer_side"), severe("T")]
    f = fold(entries(*events))
    assert clock(f, "restore")["outcome"] == "met" and clock(f, "restore")["counted"] is False
    assert (f["severity"], f["severe_counted"], f["cause_operator"], f["fault_counted"]) == (
        "severe", False, False, False,
    )  # fmt: skip


def test_a_restore_breach_sent_by_the_timer_is_read_with_the_resolutions_cause() -> None:
    events = [opened("T"), started("T", "restore", at=0, due=120), breached("T", "restore", due=120)]
    assert clock(fold(entries(*events)), "restore")["counted"] is True  # open: the operator's until proven not
    f = fold(entries(*events, resolved("T", restored=200, cause="interconnection")))
    assert (clock(f, "restore")["outcome"], clock(f, "restore")["counted"]) == ("breached", False)


def test_a_resolution_without_a_cause_category_counts_as_the_operators() -> None:
    f = fold(entries(*gold_fault("T", cause=None), severe("T")))
    assert (f["cause_operator"], f["severe_counted"], f["fault_counted"]) == (True, True, True)


def test_a_miss_stays_a_miss_whatever_comes_after() -> None:
    events = [opened("T"), breached("T", "feedback", due=30), met("T", "feedback", at=40, due=30)]
    assert clock(fold(entries(*events)), "feedback")["outcome"] == "breached"


def test_clocks_without_a_verdict_are_running_or_cancelled() -> None:
    events = [opened("T"), started("T", "progress", at=0, due=30), started("T", "written_report", at=60, due=3000)]
    f = fold(entries(*events, resolved("T", restored=60)))
    assert (clock(f, "progress")["outcome"], clock(f, "written_report")["outcome"]) == ("cancelled", "running")
    f = fold(entries(*events, cancelled("T", at=70)))
    assert {c["outcome"] for c in f["clocks"]} == {"cancelled"} and not any(c["counted"] for c in f["clocks"])


def test_a_moved_deadline_is_the_one_counted_down_and_a_paused_clock_has_none() -> None:
    events = [opened("T"), started("T", "restore", at=0, due=240)]
    paused = fold(entries(*events, moved("T", "restore", at=20, old=240, new=None, reason="paused")))
    assert (clock(paused, "restore")["deadline"], clock(paused, "restore")["paused"]) == (None, True)
    resumed = moved("T", "restore", at=50, old=None, new=270)
    f = fold(entries(*events, moved("T", "restore", at=20, old=240, new=None, reason="paused"), resumed))
    assert (clock(f, "restore")["deadline"], clock(f, "restore")["paused"]) == (minutes(270), False)
    assert clock(f, "restore")["outcome"] == "running"


def test_a_deadline_moved_after_its_verdict_leaves_the_verdict_as_it_was() -> None:
    events = [opened("T"), started("T", "feedback", at=0, due=30), met("T", "feedback", at=20, due=30)]
    f = fold(entries(*events, moved("T", "feedback", at=25, old=30, new=90, reason="recomputed")))
    assert clock(f, "feedback")["deadline"] == minutes(30) and clock(f, "feedback")["outcome"] == "met"
    assert "paused" not in clock(f, "feedback")


def test_follow_up_is_owed_at_closure_a_reminder_after_the_breach_and_recorded_with_satisfaction() -> None:
    base = [opened("T"), resolved("T", restored=60), closed("T", at=70)]
    assert fold(entries(*base))["follow_up"] == {"status": "owed"}
    reminded = fold(entries(*base, breached("T", "follow_up", due=70 + 24 * 60)))["follow_up"]
    assert reminded == {"status": "reminded", "reminder_at": minutes(70 + 24 * 60)}
    recorded = fold(entries(*gold_fault("T")))["follow_up"]
    assert (recorded["status"], recorded["satisfied"], recorded["method"], recorded["called_by"]) == (
        "recorded", True, "phone", "cs-01",
    )  # fmt: skip


def test_an_incident_lists_its_children_and_a_child_its_parent() -> None:
    from huying.events import IncidentOpened

    incident = IncidentOpened(ticket_id="I-1", category="overlay", city="广州", reported_at=T0, reason="3 reports",
                              child_ticket_ids=["T-3", "T-1", "T-2"], occurred_at=T0)  # fmt: skip
    f = fold([entry_of(incident)])
    assert (f["kind"], f["severity"], f["child_ticket_ids"]) == ("incident", "severe", ["T-1", "T-2", "T-3"])
    assert fold(entries(opened("T-1", parent_incident_id="I-1")))["parent_incident_id"] == "I-1"


def test_no_personal_data_reaches_the_entries() -> None:
    text = repr(entries(*gold_fault()))
    assert "王伟" not in text and "13800138000" not in text and "处理及时" not in text and "专线中断" not in text


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=15))
def test_duplicates_and_the_interleaving_of_the_topics_change_nothing(rnd: random.Random, copies: int) -> None:
    once = entries(*gold_fault())
    on_sla = [e for e in once if e["type"].startswith("Sla")]
    on_tickets = [e for e in once if e not in on_sla]
    arrived: list[dict] = []
    while on_sla or on_tickets:  # each topic in its own order, the two interleaved at random
        source = rnd.choice([q for q in (on_sla, on_tickets) if q])
        arrived.append(source.pop(0))
    for _ in range(copies):  # a redelivery comes after the first delivery
        n = rnd.randrange(len(arrived))
        arrived.insert(rnd.randrange(n + 1, len(arrived) + 1), arrived[n])
    assert fold(arrived) == fold(once)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(1, 60)), max_size=4),
    st.lists(st.tuples(st.integers(0, 200), st.integers(1, 60)), max_size=4),
    st.integers(1, 300),
)
def test_net_restore_time_is_never_negative_nor_more_than_the_gross(suspensions, exclusions, restored) -> None:
    from tests.unit.reporting.builders import excluded, resumed, suspended

    events = [opened("T")]
    at = 0
    for gap, length in suspensions:  # suspensions never overlap each other: one at a time
        at += gap
        events += [suspended("T", at=at), resumed("T", at=at + length)]
        at += length
    events += [excluded("T", s, s + n) for s, n in exclusions]
    f = fold(entries(*events, resolved("T", restored=restored)))
    assert 0 <= f["restore_net_seconds"] <= f["restore_gross_seconds"] == restored * 60
    assert f["restore_net_seconds"] >= restored * 60 - f["suspended_seconds"] - f["excluded_seconds"] - 1e-9


def test_a_suspension_and_its_resumption_in_the_same_instant_pair_up_in_their_order() -> None:
    from tests.unit.reporting.builders import resumed, suspended

    events = [opened("T"), suspended("T", at=10), resumed("T", at=10), suspended("T", at=30), resumed("T", at=40)]
    f = fold(entries(*events, resolved("T", restored=60)))
    assert (f["suspended_seconds"], f["restore_net_seconds"]) == (10 * 60, 50 * 60)


def test_an_opening_comes_first_in_its_instant_whatever_arrived_before_it() -> None:
    f = fold(entries(severe("T", at=0), opened("T", severity="normal")))
    assert f["severity"] == "severe"
