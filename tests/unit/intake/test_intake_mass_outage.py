"""The mass-outage rule of seed 003 ("在30分钟内接到3家以上普通集团客户反映在一个地市范围内全部用户无法使用某一业务"):
who counts (ordinary customers, full outages, intra-city lines), what "the same service" is (the product family of
CRM's product name), and the invariants: two customers, degradations, or reports more than 30 minutes apart never
make an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huying.events import Category, Channel, Scope, Tier
from intake.domain import rules
from intake.domain.correlation import Area, AreaKind, Candidate, correlate_area
from intake.domain.ids import ticket_id_for
from intake.domain.model import Arrival, Customer, Line, Master
from intake.settings import IntakeSettings

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
RULES = IntakeSettings().rules()


def candidate(n: int, minutes: float, *, reporter: str | None = None, counts: bool = True) -> Candidate:
    key = f"cc:{n}"
    return Candidate(key, reporter or f"C-{n}", T0 + timedelta(minutes=minutes), ticket_id_for(key), False, counts)


def snapshot(*, tier: Tier = Tier.STANDARD, scope: Scope = Scope.INTRA_CITY, full: bool = True, product: str = ""):
    arrival = Arrival("10086-cc", "X", Channel.HOTLINE, T0, "C-1", "L-1", attributes={"full_outage": full})
    line = Line("L-1", "C-1", Category.ACCESS, scope, ("广州",), product)
    return rules.enrich(arrival, Master(Customer("C-1", tier, "广州"), line), RULES)


@pytest.mark.parametrize(
    ("product", "category", "family"),
    [
        ("互联网专线 100M", Category.ACCESS, "internet"),
        ("互联网专线 1G", Category.ACCESS, "internet"),
        ("数据专线 2M", Category.ACCESS, "leased_circuit"),
        ("集团短信", Category.OVERLAY, "group_sms"),
        ("语音专线", Category.OVERLAY, "voice"),
        ("GPRS 企业APN", Category.ACCESS, "apn"),
        ("移动VPN", Category.OVERLAY, "vpn"),
        ("某新产品", Category.OVERLAY, "overlay"),  # no keyword: the line's category
        ("", Category.ACCESS, "access"),  # no line, or CRM without a product name
    ],
)
def test_the_same_service_is_the_product_family_of_crms_product_name(product, category, family) -> None:
    assert rules.service_family(product, category, RULES) == family


def test_enrichment_carries_the_lines_service_family() -> None:
    assert snapshot(product="互联网专线 100M").service == "internet"


def test_only_full_outages_of_ordinary_customers_on_intra_city_lines_count() -> None:
    assert rules.counts_toward_mass_outage(snapshot(tier=Tier.STANDARD), RULES)
    assert rules.counts_toward_mass_outage(snapshot(tier=Tier.BRONZE), RULES)
    assert not rules.counts_toward_mass_outage(snapshot(full=False), RULES)  # a degradation
    assert not rules.counts_toward_mass_outage(snapshot(tier=Tier.GOLD), RULES)  # important: severe on its own
    assert not rules.counts_toward_mass_outage(snapshot(tier=Tier.SILVER), RULES)
    assert not rules.counts_toward_mass_outage(snapshot(scope=Scope.INTER_CITY), RULES)  # 跨市专线: important
    assert not rules.counts_toward_mass_outage(snapshot(scope=Scope.INTER_PROVINCE), RULES)


def test_three_ordinary_full_outages_open_the_incident_and_a_fourth_that_does_not_count_joins_it() -> None:
    area = Area()
    kinds = []
    for c in (candidate(1, 0), candidate(2, 5, counts=False), candidate(3, 10), candidate(4, 20)):
        area, verdict = correlate_area(area, c, RULES)
        kinds.append(verdict.kind)
    assert kinds == [AreaKind.STANDALONE, AreaKind.STANDALONE, AreaKind.STANDALONE, AreaKind.OPENED]
    assert ticket_id_for("cc:2") not in area.incident.children  # the degradation was not one of the three
    area, verdict = correlate_area(area, candidate(5, 25, counts=False), RULES)
    assert verdict.kind is AreaKind.LINKED  # once open, the incident covers the service's other reports


def test_the_same_customer_reporting_three_times_is_one_customer() -> None:
    area = Area()
    for n, minute in enumerate((0, 5, 10)):
        area, verdict = correlate_area(area, candidate(n, minute, reporter="C-1"), RULES)
        assert verdict.kind is AreaKind.STANDALONE
    assert len(area.members) == 1


reports = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 180), st.booleans()), min_size=1, max_size=30)


def replay(items, *, reporter, counts) -> list[AreaKind]:
    area, kinds = Area(), []
    for n, (who, minute, flag) in enumerate(sorted(items, key=lambda i: i[1])):
        c = candidate(n, minute, reporter=reporter(who), counts=counts(flag))
        area, verdict = correlate_area(area, c, RULES)
        kinds.append(verdict.kind)
    return kinds


@settings(max_examples=300, deadline=None)
@given(reports)
def test_two_customers_never_make_an_incident(items) -> None:
    kinds = replay(items, reporter=lambda who: f"C-{who % 2}", counts=lambda _: True)
    assert AreaKind.OPENED not in kinds


@settings(max_examples=300, deadline=None)
@given(reports)
def test_partial_outages_never_count(items) -> None:
    kinds = replay(items, reporter=lambda who: f"C-{who}", counts=lambda _: False)
    assert set(kinds) == {AreaKind.STANDALONE}


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 20), st.integers(31, 60))
def test_reports_more_than_30_minutes_apart_never_combine(count, gap) -> None:
    items = [(n, n * gap, True) for n in range(count)]  # every two reports further apart than the window
    kinds = replay(items, reporter=lambda who: f"C-{who}", counts=lambda _: True)
    assert AreaKind.OPENED not in kinds


@settings(max_examples=300, deadline=None)
@given(reports)
def test_a_report_that_does_not_count_never_changes_whether_an_incident_opens(items) -> None:
    counting = [i for i in items if i[2]]
    with_noise = replay(items, reporter=lambda who: f"C-{who}", counts=lambda flag: flag)
    without = replay(counting, reporter=lambda who: f"C-{who}", counts=lambda _: True)
    assert (AreaKind.OPENED in with_noise) == (AreaKind.OPENED in without)
