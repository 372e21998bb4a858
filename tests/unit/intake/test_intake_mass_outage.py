"""The mass-outage rule of seed 003 一、6 ("在30分钟内接到3家以上普通集团客户反映在一个地市范围内全部用户无法使用
某一业务"): who counts (ordinary customers — CRM grade ordinary and no inter-city/inter-province line — with a
full outage), what "the same service" is (the line's product family), and the invariants: one customer however
many reports, degradations, important customers, or reports more than 30 minutes apart never make an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huying.events import AssuranceLevel, Category, Channel, CustomerGrade, Scope, Tier
from intake.domain import rules
from intake.domain.correlation import Area, AreaKind, Candidate, correlate_area
from intake.domain.emit import ticket_opened, ticket_verified
from intake.domain.ids import ticket_id_for
from intake.domain.model import Arrival, Customer, Line, Master
from intake.settings import IntakeSettings

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
RULES = IntakeSettings().rules()


def candidate(n: int, minutes: float, *, reporter: str | None = None, counts: bool = True) -> Candidate:
    key = f"cc:{n}"
    return Candidate(key, reporter or f"C-{n}", T0 + timedelta(minutes=minutes), ticket_id_for(key), False, counts)


def snapshot(
    *,
    grade: CustomerGrade = CustomerGrade.ORDINARY,
    tier: Tier = Tier.STANDARD,
    scope: Scope = Scope.INTRA_CITY,
    full: bool = True,
    product: str = "互联网专线 100M",
    family: str | None = None,
    **attributes,
):
    arrival = Arrival(
        "10086-cc", "X", Channel.HOTLINE, T0, "C-1", "L-1", attributes={"full_outage": full, **attributes}
    )
    line = Line("L-1", "C-1", Category.ACCESS, scope, ("广州",), product, family, AssuranceLevel.AA)
    return rules.enrich(arrival, Master(Customer("C-1", tier, "广州", grade), line), RULES)


def counts(snap, *, wide_line: bool = False) -> bool:
    return rules.counts_toward_mass_outage(snap, wide_line=wide_line)


@pytest.mark.parametrize(
    ("product", "family", "category", "service"),
    [
        ("互联网专线 100M", None, Category.ACCESS, "internet"),
        ("数据专线 2M", None, Category.ACCESS, "circuit"),
        ("集团短信", None, Category.OVERLAY, "group_sms"),
        ("语音专线", None, Category.OVERLAY, "voice"),
        ("GPRS 企业APN", None, Category.ACCESS, "apn"),
        ("移动VPN", None, Category.OVERLAY, "vpn"),
        ("某新产品", None, Category.OVERLAY, "overlay"),  # no keyword: the line's category
        ("某新产品", "iot", Category.ACCESS, "iot"),  # CRM's family wins over any derivation
        ("互联网专线", "circuit", Category.ACCESS, "circuit"),
    ],
)
def test_the_same_service_is_crms_product_family_else_derived_from_the_product_else_the_category(
    product, family, category, service
) -> None:
    line = Line("L-1", "C-1", category, Scope.INTRA_CITY, ("广州",), product, family)
    assert rules.service_family(line, category, RULES) == service


def test_a_report_without_a_line_correlates_by_its_category() -> None:
    assert rules.service_family(None, Category.OVERLAY, RULES) == "overlay"


def test_the_snapshot_carries_crms_grade_assurance_level_and_family() -> None:
    snap = snapshot(grade=CustomerGrade.CITY_DIAMOND, family="internet")
    assert (snap.customer_grade, snap.assurance_level, snap.product_family, snap.service) == (
        CustomerGrade.CITY_DIAMOND,
        AssuranceLevel.AA,
        "internet",
        "internet",
    )
    derived = snapshot()  # CRM named no family: the event says so, correlation derives one
    assert (derived.product_family, derived.service) == (None, "internet")
    unknown = rules.enrich(Arrival("cc", "1", Channel.HOTLINE, T0, "C-9"), Master(), RULES)
    assert (unknown.customer_grade, unknown.assurance_level, unknown.product_family) == (None, None, None)


def test_ticket_opened_and_ticket_verified_carry_the_crm_facts() -> None:
    snap = snapshot(grade=CustomerGrade.PROVINCIAL, family="internet")
    arrival = Arrival("10086-cc", "X", Channel.HOTLINE, T0, "C-1", "L-1")
    opened = ticket_opened(arrival, snap, ticket_id="T-1", parent=None, rules=RULES, now=T0)
    verified = ticket_verified(ticket_id="T-1", report_key="cc:X", snapshot=snap, previous_tier=Tier.STANDARD, now=T0)
    for event in (opened, verified):
        assert (event.customer_grade, event.assurance_level, event.product_family) == ("provincial", "AA", "internet")


def test_only_ordinary_customers_full_outages_count() -> None:
    assert counts(snapshot())
    assert counts(snapshot(tier=Tier.GOLD))  # the grade decides, not the service tier
    assert not counts(snapshot(full=False))  # a degradation, not 全部用户无法使用
    assert not counts(snapshot(grade=CustomerGrade.PROVINCIAL))  # important: severe on its own
    assert not counts(snapshot(grade=CustomerGrade.CITY_DIAMOND))
    assert not counts(snapshot(scope=Scope.INTER_CITY))  # 跨市专线集团客户: important
    assert not counts(snapshot(scope=Scope.INTER_PROVINCE))
    assert not counts(snapshot(), wide_line=True)  # an inter-city line elsewhere makes the customer important
    assert not counts(snapshot(terminal_only=True))  # a handset fault is no service outage
    unknown = rules.enrich(Arrival("cc", "1", Channel.HOTLINE, T0, attributes={"full_outage": True}), Master(), RULES)
    assert not counts(unknown)  # nobody knows it is a group customer at all, nor which


def test_important_customers_are_the_seeds_three_kinds_and_unknown_ones_are_neither() -> None:
    assert rules.is_important(snapshot(grade=CustomerGrade.PROVINCIAL), wide_line=False)
    assert rules.is_important(snapshot(scope=Scope.INTER_PROVINCE), wide_line=False)
    assert rules.is_important(snapshot(), wide_line=True)
    assert not rules.is_important(snapshot(tier=Tier.GOLD), wide_line=False)
    unknown = rules.enrich(Arrival("cc", "1", Channel.HOTLINE, T0), Master(), RULES)
    assert not rules.is_important(unknown, wide_line=False) and not rules.is_ordinary(unknown, wide_line=False)


def test_the_numbers_come_from_seed_003() -> None:
    assert (RULES.incident_threshold, RULES.incident_window) == (3, timedelta(minutes=30))
    fields = IntakeSettings.model_fields
    assert "3家以上普通集团客户" in fields["incident_threshold"].description
    assert "在30分钟内" in fields["incident_window_minutes"].description


def test_three_ordinary_full_outages_open_the_incident_and_one_that_does_not_count_joins_it() -> None:
    area = Area()
    kinds = []
    for c in (candidate(1, 0), candidate(2, 5, counts=False), candidate(3, 10), candidate(4, 20)):
        area, verdict = correlate_area(area, c, RULES)
        kinds.append(verdict.kind)
    assert kinds == [AreaKind.STANDALONE, AreaKind.STANDALONE, AreaKind.STANDALONE, AreaKind.OPENED]
    assert area.incident is not None
    assert ticket_id_for("cc:2") not in area.incident.children  # the degradation was not one of the three
    area, verdict = correlate_area(area, candidate(5, 25, counts=False), RULES)
    assert verdict.kind is AreaKind.LINKED  # once open, the incident covers the service's other reports there


def test_the_same_customer_reporting_three_times_is_one_customer() -> None:
    area = Area()
    for n, minute in enumerate((0, 5, 10)):
        area, verdict = correlate_area(area, candidate(n, minute, reporter="C-1"), RULES)
        assert verdict.kind is AreaKind.STANDALONE
    assert len(area.members) == 1


reports = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 180), st.booleans()), min_size=1, max_size=30)


def replay(items, *, reporter, counting) -> list[AreaKind]:
    area, kinds = Area(), []
    for n, (who, minute, flag) in enumerate(sorted(items, key=lambda i: i[1])):
        c = candidate(n, minute, reporter=reporter(who), counts=counting(flag))
        area, verdict = correlate_area(area, c, RULES)
        kinds.append(verdict.kind)
    return kinds


@settings(max_examples=300, deadline=None)
@given(reports)
def test_one_customer_never_makes_an_incident_however_many_reports(items) -> None:
    assert AreaKind.OPENED not in replay(items, reporter=lambda _: "C-1", counting=lambda _: True)


@settings(max_examples=300, deadline=None)
@given(reports)
def test_two_customers_never_make_an_incident(items) -> None:
    assert AreaKind.OPENED not in replay(items, reporter=lambda who: f"C-{who % 2}", counting=lambda _: True)


@settings(max_examples=300, deadline=None)
@given(reports)
def test_partial_outages_never_count(items) -> None:
    kinds = replay(items, reporter=lambda who: f"C-{who}", counting=lambda _: False)
    assert set(kinds) == {AreaKind.STANDALONE}


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 20), st.integers(31, 60))
def test_reports_more_than_30_minutes_apart_never_combine(count, gap) -> None:
    items = [(n, n * gap, True) for n in range(count)]  # every two reports further apart than the window
    assert AreaKind.OPENED not in replay(items, reporter=lambda who: f"C-{who}", counting=lambda _: True)


@settings(max_examples=300, deadline=None)
@given(reports)
def test_a_report_that_does_not_count_never_changes_whether_an_incident_opens(items) -> None:
    with_noise = replay(items, reporter=lambda who: f"C-{who}", counting=lambda flag: flag)
    without = replay([i for i in items if i[2]], reporter=lambda who: f"C-{who}", counting=lambda _: True)
    assert (AreaKind.OPENED in with_noise) == (AreaKind.OPENED in without)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 29)), min_size=3, max_size=20))
def test_three_distinct_ordinary_customers_within_30_minutes_always_make_one(items) -> None:
    kinds = replay([(who, minute, True) for who, minute in items], reporter=lambda who: f"C-{who}", counting=bool)
    distinct = len({who for who, _ in items})
    assert (AreaKind.OPENED in kinds) == (distinct >= 3)


def test_a_child_of_a_quiet_incident_never_becomes_a_child_of_the_next_one() -> None:
    """A ticket has one parent: a child of the area's last incident that reports a full outage again after that
    incident went quiet (the CI storm found this: "a child with two parents") counts nothing towards the next."""
    area = Area()
    for c in (candidate(1, 0), candidate(2, 5), candidate(3, 10)):
        area, _ = correlate_area(area, c, RULES)
    first = area.incident
    assert first is not None and ticket_id_for("cc:1") in first.children
    later = 10 + (RULES.incident_window + RULES.incident_quiet).total_seconds() / 60 + 5  # the incident is quiet
    again = Candidate("cc:1-again", "C-1", T0 + timedelta(minutes=later), ticket_id_for("cc:1"), False)
    area, verdict = correlate_area(area, again, RULES)
    assert verdict.kind is AreaKind.STANDALONE and area.incident is first
    for n in (4, 5):  # two new customers: with the old child that would have made three
        area, verdict = correlate_area(area, candidate(n, later + n), RULES)
    assert verdict.kind is AreaKind.STANDALONE and area.incident is first


def test_an_own_ticket_child_never_counts_towards_another_incident_even_out_of_order() -> None:
    """A gold customer's own child ticket (CHILD) whose fault is reported again — here with an earlier time, as a
    batch taken out of order brings it — counts nothing towards a second incident: it has its parent."""
    area = Area()
    for c in (candidate(1, 60), candidate(2, 65), candidate(3, 70)):
        area, _ = correlate_area(area, c, RULES)
    gold = Candidate("cc:4", "C-4", T0 + timedelta(minutes=75), ticket_id_for("cc:4"), True)
    area, verdict = correlate_area(area, gold, RULES)
    assert verdict.kind is AreaKind.CHILD and ticket_id_for("cc:4") in area.incident.children
    early = Candidate("cc:4-full", "C-4", T0, ticket_id_for("cc:4"), True)  # before the incident's window
    area, verdict = correlate_area(area, early, RULES)
    assert verdict.kind is AreaKind.STANDALONE
    for n, minute in ((5, 1), (6, 2)):
        area, verdict = correlate_area(area, candidate(n, minute), RULES)
    assert verdict.kind is AreaKind.STANDALONE  # two customers, not three: the gold ticket stayed the first's
