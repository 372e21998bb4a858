"""Correlation, pure: line windows and the incident rule, with hypothesis for the invariants (no arrival is
lost, none ends in two places, an incident opens exactly when enough distinct customers report)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.domain.correlation import (
    Area,
    AreaKind,
    Candidate,
    LineVerdict,
    correlate_area,
    line_verdict,
    new_window,
)
from intake.domain.ids import incident_id_for, ticket_id_for
from intake.domain.model import Rules

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
RULES = Rules()


def candidate(n: int, minutes: float, reporter: str | None = None, own: bool = False) -> Candidate:
    key = f"cc:{n}"
    return Candidate(key, reporter or f"C-{n}", T0 + timedelta(minutes=minutes), ticket_id_for(key), own)


def run(area: Area, *candidates: Candidate):
    verdicts = []
    for c in candidates:
        area, verdict = correlate_area(area, c, RULES)
        verdicts.append(verdict)
    return area, verdicts


def test_a_line_window_takes_later_and_slightly_earlier_arrivals_and_is_replaced_when_it_ends() -> None:
    window = new_window(key="nms:A1", target="T-1", at=T0, rules=RULES)
    verdict = lambda key, minutes: line_verdict(window, key=key, at=T0 + timedelta(minutes=minutes), rules=RULES)  # noqa: E731
    assert line_verdict(None, key="x", at=T0, rules=RULES) is LineVerdict.CLAIM
    assert verdict("nms:A1", 500) is LineVerdict.MINE
    assert verdict("cc:1", 59) is LineVerdict.LINK
    assert verdict("cc:1", -30) is LineVerdict.LINK  # a report made before the alarm: same fault
    assert verdict("cc:1", 60) is LineVerdict.REPLACE
    assert verdict("cc:1", -61) is LineVerdict.NONE


def test_the_third_distinct_customer_within_30_minutes_opens_the_incident_and_lists_the_first_two() -> None:
    area, verdicts = run(Area(), candidate(1, 0), candidate(2, 10), candidate(2, 12, reporter="C-2"), candidate(3, 29))
    assert [v.kind for v in verdicts] == [AreaKind.STANDALONE] * 3 + [AreaKind.OPENED]
    incident = verdicts[-1].incident
    assert incident.incident_id == incident_id_for("cc:3") and not verdicts[-1].own_ticket
    assert incident.children == (ticket_id_for("cc:1"), ticket_id_for("cc:2"))
    assert (incident.first_at, area.members) == (T0, ())


def test_the_same_customer_twice_is_one_reporter_and_reports_31_minutes_apart_do_not_count_together() -> None:
    _, verdicts = run(Area(), candidate(1, 0), candidate(2, 5, reporter="C-1"), candidate(3, 10, reporter="C-1"))
    assert {v.kind for v in verdicts} == {AreaKind.STANDALONE}
    _, verdicts = run(Area(), candidate(1, 0), candidate(2, 20), candidate(3, 51))
    assert {v.kind for v in verdicts} == {AreaKind.STANDALONE}


def test_after_the_incident_reports_are_children_until_it_has_been_quiet_for_the_window() -> None:
    area, _ = run(Area(), candidate(1, 0), candidate(2, 1), candidate(3, 2))
    area, verdicts = run(area, candidate(4, 20), candidate(5, 45, own=True), candidate(6, 76))
    assert [(v.kind, v.own_ticket) for v in verdicts] == [
        (AreaKind.LINKED, False),
        (AreaKind.CHILD, True),
        (AreaKind.STANDALONE, True),
    ]
    assert (
        area.incident is not None and area.incident.opened_by == "cc:3"
    )  # kept while quiet: its children stay its own


def test_a_retry_of_the_arrival_that_opened_the_incident_gets_the_same_verdict() -> None:
    area, verdicts = run(Area(), candidate(1, 0), candidate(2, 1), candidate(3, 2, own=True))
    again, verdict = correlate_area(area, candidate(3, 2, own=True), RULES)
    assert (again, verdict) == (area, verdicts[-1]) and verdict.own_ticket
    assert verdict.incident.children[-1] == ticket_id_for("cc:3")


arrivals = st.lists(
    st.tuples(st.integers(0, 8), st.integers(0, 180), st.booleans()),  # reporter, minute, gold
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(arrivals)
def test_every_arrival_ends_in_exactly_one_place_and_no_ticket_has_two_parents(items) -> None:
    area, parents, incidents = Area(), {}, {}
    for n, (who, minute, own) in enumerate(sorted(items, key=lambda i: i[1])):
        c = candidate(n, minute, reporter=f"C-{who}", own=own)
        area, verdict = correlate_area(area, c, RULES)
        if verdict.kind is AreaKind.OPENED:
            assert verdict.incident.incident_id not in incidents, "an incident opened twice"
            incidents[verdict.incident.incident_id] = verdict.incident
            for child in verdict.incident.children:
                assert parents.get(child) in (None, "pending"), "a ticket with two parents"
                parents[child] = verdict.incident.incident_id
        if verdict.own_ticket:
            parent = verdict.incident.incident_id if verdict.incident else None
            assert parents.get(c.ticket_id) in (None, parent)
            parents.setdefault(c.ticket_id, parent)
        else:
            assert verdict.incident is not None, "linked to nothing: the report would be lost"
        # at most one incident is active at a time in an area
        assert area.incident is None or area.incident.incident_id in incidents


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 120), min_size=1, max_size=12, unique=True))
def test_an_incident_opens_exactly_when_three_distinct_customers_fall_within_30_minutes(minutes) -> None:
    area, opened_at = Area(), None
    for n, minute in enumerate(sorted(minutes)):
        area, verdict = correlate_area(area, candidate(n, minute), RULES)
        if verdict.kind is AreaKind.OPENED:
            opened_at = n
            break
    times = sorted(minutes)
    expected = next((i for i in range(2, len(times)) if times[i] - times[i - 2] <= 30), None)
    assert opened_at == expected
