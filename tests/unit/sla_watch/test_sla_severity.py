"""The severe mark (seed 003 一): an important customer's full outage becomes severe when it passes 30 minutes (a
non-diamond customer's inter-city circuit: 8 hours) from the outage's start — by a timer, never at opening."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huying.events import (
    Category,
    ClockKind,
    CustomerGrade,
    Scope,
    Severity,
    TicketSeverityChanged,
    TicketVerified,
    Tier,
)
from sla_watch.domain import TimerKind, pending_timers, transitions
from sla_watch.domain.messages import timer_event

from . import builders as b

pytestmark = pytest.mark.unit
K = ClockKind


def marks(sla, now=None):
    return [t for t in pending_timers(sla, now=now or b.at(0)) if t.kind is TimerKind.SEVERE_MARK]


def outage(minutes=0, **kw):
    kw.setdefault("full_outage", True)
    kw.setdefault("tier", Tier.BRONZE)
    return b.opened(minutes, **kw)


def verified(minutes, **kw):
    return TicketVerified(
        ticket_id=b.TICKET,
        occurred_at=b.at(minutes),
        event_id=f"00000000-0000-4000-9000-{int(minutes * 1000):012d}",
        tier=kw.pop("tier", Tier.BRONZE),
        scope=kw.pop("scope", Scope.INTRA_CITY),
        category=kw.pop("category", Category.ACCESS),
        previous_tier=Tier.STANDARD,
        **kw,
    )


@pytest.mark.parametrize("grade", [CustomerGrade.PROVINCIAL, CustomerGrade.CITY_DIAMOND])
def test_an_important_customers_full_outage_is_marked_severe_30_minutes_after_it_began(grade) -> None:
    sla = b.run(outage(0, customer_grade=grade, reported=0, alarm=-5))
    [mark] = marks(sla)
    assert mark.due_at == b.at(25)  # the alarm came first: 30 minutes from it
    event = timer_event(mark, fired_at=mark.due_at, warning_ratio=None, late_after=1)
    assert isinstance(event, TicketSeverityChanged) and event.severity is Severity.SEVERE
    assert (event.outage_started_at, event.marked_at, event.event_id) == (b.at(-5), b.at(25), mark.timer_id)
    assert "30分钟" in event.reason
    # a mark, not a commitment: no SlaClockStarted, no verdict at restoration
    assert not [tr for tr in transitions(None, sla) if tr.clock is K.SEVERITY]
    done = b.run(outage(0, customer_grade=grade), b.resolved(10))
    assert not marks(done) and not [tr for tr in transitions(sla, done) if tr.clock is K.SEVERITY]


@pytest.mark.parametrize("scope", [Scope.INTER_CITY, Scope.INTER_PROVINCE])
def test_any_customer_of_an_inter_city_or_inter_province_line_is_important(scope) -> None:
    [mark] = marks(b.run(outage(0, customer_grade=CustomerGrade.ORDINARY, scope=scope, product_family="internet")))
    assert mark.due_at == b.at(30) and mark.subject == "important_customer"


def test_a_non_diamond_inter_city_circuit_is_marked_after_8_hours() -> None:
    circuit = {"scope": Scope.INTER_CITY, "product_family": "circuit", "category": Category.ACCESS}
    [mark] = marks(b.run(outage(0, customer_grade=CustomerGrade.ORDINARY, **circuit)))
    assert mark.due_at == b.at(8 * 60) and mark.subject == "non_diamond_inter_city_circuit"
    [diamond] = marks(b.run(outage(0, customer_grade=CustomerGrade.CITY_DIAMOND, **circuit)))
    assert diamond.due_at == b.at(30)  # a diamond customer's circuit: 30 minutes
    across_provinces = {**circuit, "scope": Scope.INTER_PROVINCE}
    [wide] = marks(b.run(outage(0, customer_grade=CustomerGrade.ORDINARY, **across_provinces)))
    assert wide.due_at == b.at(30)  # the 8 hours are for 市级跨市 circuits only
    unknown_family = {**circuit, "product_family": None}
    [doubt] = marks(b.run(outage(0, customer_grade=CustomerGrade.ORDINARY, **unknown_family)))
    assert doubt.due_at == b.at(30)  # in doubt, respond at severe level first


def test_ordinary_customers_partial_outages_and_incidents_get_no_mark() -> None:
    assert not marks(b.run(outage(0, customer_grade=CustomerGrade.ORDINARY)))  # intra-city ordinary
    assert not marks(b.run(outage(0, customer_grade=None)))  # unverified: nothing known yet
    assert not marks(b.run(outage(0, customer_grade=CustomerGrade.PROVINCIAL, full_outage=False)))
    assert not marks(b.run(outage(0, customer_grade=CustomerGrade.PROVINCIAL, severity=Severity.SEVERE)))


def test_the_mark_counts_outage_time_only_and_a_reopened_fault_continues_it() -> None:
    grade = {"customer_grade": CustomerGrade.PROVINCIAL}
    # suspension does not stop an outage: the mark does not pause
    paused = b.run(outage(0, **grade), b.suspended(5), b.resumed(60))
    assert [m.due_at for m in marks(paused, b.at(5))] == [b.at(30)]
    # restored at 20, reopened at 50: 20 minutes of outage so far, 10 more from the reopening
    reopened = b.run(outage(0, **grade), b.resolved(20), b.reopened(50))
    assert [m.due_at for m in marks(reopened, b.at(50))] == [b.at(60)]


def test_a_verification_that_makes_the_customer_important_starts_the_mark_never_before_it_is_known() -> None:
    opened = outage(0, customer_grade=None, verified=False)
    early = b.run(opened, verified(10, customer_grade=CustomerGrade.CITY_DIAMOND))
    assert [m.due_at for m in marks(early, b.at(10))] == [b.at(30)]  # from the outage's start
    late = b.run(opened, verified(45, customer_grade=CustomerGrade.CITY_DIAMOND))
    assert [m.due_at for m in marks(late, b.at(45))] == [b.at(45)]  # already past the mark: severe on knowing it
    ordinary = b.run(opened, verified(10, customer_grade=CustomerGrade.ORDINARY))
    assert not marks(ordinary, b.at(10))


@settings(max_examples=200, deadline=None)
@given(
    alarm=st.one_of(st.none(), st.integers(-120, 60)),
    known=st.integers(0, 600),
    grade=st.sampled_from(list(CustomerGrade)),
    scope=st.sampled_from(list(Scope)),
    family=st.sampled_from([None, "circuit", "internet", "group_sms"]),
    restored=st.one_of(st.none(), st.integers(1, 700)),
)
def test_a_severe_mark_never_fires_before_30_minutes_of_outage(alarm, known, grade, scope, family, restored) -> None:
    """Whatever the customer, line, verification time and restoration: a mark is due no earlier than 30 minutes
    after the outage began (report or earlier alarm), nor before the facts that made it were known, and a fault
    restored before its mark carries none."""
    events = [outage(0, customer_grade=None, verified=False, scope=scope, alarm=alarm, product_family=family)]
    events.append(verified(known, customer_grade=grade, scope=scope, product_family=family))
    if restored is not None:
        events.append(b.resolved(restored))
    sla = b.run(*events)
    start = min(b.at(0), b.at(alarm) if alarm is not None else b.at(0))
    pending = marks(sla, b.at(max(known, restored or 0)))
    if restored is not None:
        assert not pending  # restored: the mark stopped (or never started), nothing left to fire
    for mark in pending:
        assert mark.due_at >= start + timedelta(minutes=30)
        if scope is Scope.INTRA_CITY:  # importance came with the verification, not with the opening
            assert mark.due_at >= b.at(known)
