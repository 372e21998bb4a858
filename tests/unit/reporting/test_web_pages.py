"""The dashboard pages' pure parts: the KPI trend's periods (day, ISO week, month in Shanghai time), days summed into
weeks, one value per period (a gap where nothing was due); an incident's children and product family, who sees
which child; breach and escalation rows; notification rows with and without notify's texts; the pages' words."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huying.events import EscalationRaised, IncidentOpened
from reporting import store
from reporting.api import kpi_response
from reporting.domain import kpis
from reporting.domain.facts import SHANGHAI
from reporting.web import i18n_pages, trends, views
from reporting.web.i18n import CATALOG
from reporting.web.pages import word
from tests.support.auth import AGENT, SUPERVISOR
from tests.unit.reporting.builders import (
    T0,
    accepted,
    breached,
    closed,
    dispatched,
    entries,
    minutes,
    opened,
    resolved,
    sent,
    started,
)

pytestmark = pytest.mark.unit
NS = uuid.UUID("8a1f2b8e-2c55-4b8c-9d57-0b6a7f3e9c11")


def incident(incident_id: str, *children: str, at: float = 0, city: str = "广州") -> IncidentOpened:
    """A mass outage as intake opens it: the reports that made it listed as children."""
    return IncidentOpened(event_id=uuid.uuid5(NS, f"{incident_id}|incident"), ticket_id=incident_id,
                          category="access", city=city, reported_at=minutes(at), occurred_at=minutes(at),
                          reason=f"3 or more ordinary customers reported a full outage of internet in {city} within "
                          "30 min", child_ticket_ids=list(children))  # fmt: skip


def escalated(ticket_id: str, *, level: int = 1, audience: str = "director", at: float = 120) -> EscalationRaised:
    clock = {1: "escalation_director", 2: "escalation_deputy_gm"}.get(level, "restore")
    return EscalationRaised(event_id=uuid.uuid5(NS, f"{ticket_id}|escalated|{level}"), ticket_id=ticket_id,
                            clock=clock, policy_version="2026.1", producer="sla-watch", level=level,
                            audience=audience, occurred_at=minutes(at))  # fmt: skip


def facts(ticket_id: str, *events) -> dict[str, Any]:
    return {"_id": ticket_id, **store.document(entries(*events))}


# ── trends ────────────────────────────────────────────────────────────────────────────────────────────────────


def test_the_last_days_end_with_today_in_shanghai_time() -> None:
    late = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # 01:30 on 2 March in Shanghai
    days = trends.buckets(late, "day", 3)
    assert [b.label for b in days] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    assert days[-1].start == datetime(2026, 3, 2, tzinfo=SHANGHAI) and days[-1].end == datetime(
        2026, 3, 3, tzinfo=SHANGHAI
    )


def test_weeks_are_iso_weeks_from_monday_and_months_cross_the_year() -> None:
    wednesday = datetime(2026, 1, 7, 4, tzinfo=UTC)
    weeks = trends.buckets(wednesday, "week", 2)
    assert [w.label for w in weeks] == ["2026-W01", "2026-W02"]
    assert weeks[0].start == datetime(2025, 12, 29, tzinfo=SHANGHAI)  # ISO week 1 of 2026 starts in 2025
    months = trends.buckets(wednesday, "month", 3)
    assert [m.label for m in months] == ["2025-11", "2025-12", "2026-01"]
    assert months[-1].end == datetime(2026, 2, 1, tzinfo=SHANGHAI)
    with pytest.raises(ValueError):
        trends.buckets(wednesday, "quarter", 2)


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(9000, 1, 1)),
       st.sampled_from(trends.PERIODS), st.integers(1, trends.MAX_COUNT))  # fmt: skip
def test_periods_are_contiguous_ordered_and_the_last_holds_now(naive: datetime, period: str, count: int) -> None:
    now = naive.replace(tzinfo=UTC)
    found = trends.buckets(now, period, count)
    assert len(found) == count and len({b.label for b in found}) == count
    assert all(a.end == b.start for a, b in itertools.pairwise(found))
    assert found[-1].start <= now < found[-1].end


@given(st.dates(min_value=date(2001, 1, 1), max_value=date(9000, 1, 1)))
def test_a_day_falls_in_the_week_bucket_that_holds_it(day: date) -> None:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI)
    assert trends.to_week(f"{day:%Y-%m-%d}") == trends.buckets(noon, "week", 1)[0].label


def _rows(*tickets: tuple[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """What store.kpi_groups answers grouped by period: each ticket's contribution summed per day."""
    groups: dict[str, dict[str, Any]] = {}
    breaches: dict[tuple[str, str, str], int] = {}
    for day, doc in tickets:
        flat = {p.replace(".", "__"): v for p, v in _leaves(doc["kpi"])}
        into = groups.setdefault(day, {"_id": {"period": day}})
        for k, v in flat.items():
            into[k] = into.get(k, 0) + v
        for b in doc["breaches"]:
            breaches[(day, b["clock"], b["cause"])] = breaches.get((day, b["clock"], b["cause"]), 0) + 1
    rows = [{"_id": {"period": d, "clock": c, "cause": k}, "n": n} for (d, c, k), n in breaches.items()]
    return {"groups": list(groups.values()), "breaches": rows, "all": [], "all_breaches": []}


def _leaves(node: dict[str, Any], prefix: str = ""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_days_summed_into_a_week_give_the_rate_of_the_sums_not_the_mean_of_the_rates() -> None:
    in_time = facts("T-1", opened("T-1"), dispatched("T-1"),
                    started("T-1", "acceptance", at=1, due=11, subject="gz-access-ops"), accepted("T-1"))  # fmt: skip
    in_time["kpi"]["acceptance_within_10_min"] = {"met": 1, "due": 1}
    late = {"kpi": kpis.contributions({}), "breaches": [{"clock": "acceptance", "cause": "unresolved"}]}
    late["kpi"]["acceptance_within_10_min"] = {"met": 0, "due": 1}
    found = _rows(("2026-03-02", in_time), ("2026-03-03", late), ("2026-03-04", late))
    weekly = trends.relabel(found, trends.to_week)
    answer = kpi_response(weekly, ["period"])
    (week,) = answer["groups"]
    assert week["key"] == {"period": "2026-W10"}
    assert week["kpis"]["acceptance_within_10_min"] == {"met": 1, "due": 3, "rate": pytest.approx(1 / 3)}
    assert week["breaches"] == [{"clock": "acceptance", "cause": "unresolved", "count": 2}]


def test_the_series_has_one_value_per_period_and_a_gap_where_nothing_was_due() -> None:
    periods = trends.buckets(T0, "day", 3)  # 2026-02-28 … 2026-03-02
    figures = kpis.figures({"tickets": 2, "restore_within_limit": {"met": 1, "due": 2},
                            "mttr": {"tickets": 1, "seconds": 5400.0}})  # fmt: skip
    answer = {"groups": [{"key": {"period": "2026-03-02"}, "kpis": figures,
                          "breaches": [{"clock": "restore", "cause": "operator_equipment", "count": 1}]}]}  # fmt: skip
    chart = trends.series(answer, periods)
    assert chart["labels"] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    assert chart["rates"]["restore_within_limit"] == [None, None, 50.0]
    assert chart["rates"]["acceptance_within_10_min"] == [None, None, None]  # nothing due: no 0 %
    assert chart["tickets"] == [0, 0, 2] and chart["breaches"] == [0, 0, 1]
    assert chart["mttr_minutes"] == [None, None, 90.0]
    assert set(chart["rates"]) == set(trends.RATES) and chart["order"] == list(trends.RATES)


def test_the_current_table_has_every_rate_with_met_due_and_percent() -> None:
    figures = kpis.figures({"satisfaction": {"satisfied": 1, "records": 4}, "contact": {}})
    table = {r["name"]: r for r in trends.current_table(figures)}
    assert list(table) == list(trends.RATES)
    assert table["satisfaction"] == {"name": "satisfaction", "met": 1, "due": 4, "percent": 25.0}
    assert table["restore_within_limit"]["percent"] is None


# ── incidents ─────────────────────────────────────────────────────────────────────────────────────────────────


def _readable(who):
    from huying.access import reads_ticket

    return lambda f: reads_ticket(who, f.get("teams", []), [])


def test_an_incident_lists_its_children_from_its_opening_and_from_those_naming_it() -> None:
    parent = facts("I-1", incident("I-1", "T-1", "T-2"))
    first = facts("T-1", opened("T-1", product_family="internet"), dispatched("T-1"))
    second = facts("T-2", opened("T-2", product_family="internet"), dispatched("T-2"), resolved("T-2", restored=50),
                   closed("T-2", at=90))  # fmt: skip
    later = facts("T-3", opened("T-3", parent_incident_id="I-1", product_family="group_sms", tier="silver"),
                  dispatched("T-3", "sz-access-ops"))  # fmt: skip
    row = views.incident_row(parent, {f["_id"]: f for f in (first, second, later)}, _readable(SUPERVISOR))
    assert row is not None and row["children_count"] == 3 and row["hidden_children"] == 0
    assert row["city"] == "广州" and row["category"] == "access" and row["product_family"] == "internet"
    assert [(c["ticket_id"], c["state"], c["tier"]) for c in row["children"]] == [
        ("T-1", "dispatched", "gold"), ("T-2", "closed", "gold"), ("T-3", "dispatched", "silver")]  # fmt: skip
    assert row["started_at"] == T0 and row["severity"] == "severe"

    agent = views.incident_row(parent, {f["_id"]: f for f in (first, second, later)}, _readable(AGENT))
    assert [c["ticket_id"] for c in agent["children"]] == ["T-1", "T-2"] and agent["hidden_children"] == 1
    assert agent["children_count"] == 3
    elsewhere = views.incident_row(parent, {"T-3": later}, _readable(AGENT))
    assert elsewhere is None  # neither the incident nor any child is the agent's


def test_open_incidents_come_first_then_the_newest() -> None:
    def row(i: str, status: str, at: float) -> dict[str, Any]:
        return {"incident_id": i, "status": status, "started_at": minutes(at)}

    rows = views.incidents([row("I-1", "open", 0), row("I-2", "closed", 60), None, row("I-3", "open", 30)])
    assert [r["incident_id"] for r in rows] == ["I-3", "I-1", "I-2"]


def test_a_product_family_is_the_childrens_most_common_and_none_without_one() -> None:
    assert views.product_family([{"product_family": "b"}, {"product_family": "a"}, {"product_family": "b"}]) == "b"
    assert views.product_family([{"product_family": "b"}, {"product_family": "a"}]) == "a"  # a tie: by name
    assert views.product_family([{}, {"product_family": None}]) is None


# ── breaches and escalations ─────────────────────────────────────────────────────────────────────────────────


def test_each_breached_clock_is_a_row_with_its_cause_time_and_whether_it_counts() -> None:
    doc = facts("T-1", opened("T-1"), dispatched("T-1"), started("T-1", "contact", at=1, due=16),
                breached("T-1", "contact", due=16), started("T-1", "restore", at=0, due=120),
                breached("T-1", "restore", due=120), resolved("T-1", restored=150, cause="customer_side"),
                escalated("T-1"))  # fmt: skip
    rows = {r["clock"]: r for r in views.breach_rows(doc)}
    assert set(rows) == {"contact", "restore"}
    assert rows["contact"]["cause"] == "customer_side" and rows["contact"]["counted"] is True
    assert rows["restore"]["counted"] is False  # not the operator's cause: the restore breach does not count
    assert rows["contact"]["at"] == minutes(16) and rows["contact"]["teams"] == ["gz-access-ops"]
    assert [(e["level"], e["audience"], e["at"]) for e in views.escalation_rows(doc)] == [(1, "director", minutes(120))]


def test_an_unresolved_breach_says_so_and_a_cancelled_tickets_breach_never_counts() -> None:
    doc = facts("T-1", opened("T-1"), started("T-1", "acceptance", at=1, due=11), breached("T-1", "acceptance", due=11))
    assert [(r["cause"], r["counted"]) for r in views.breach_rows(doc)] == [("unresolved", True)]
    doc["status"] = "cancelled"
    assert [r["counted"] for r in views.breach_rows(doc)] == [False]


def test_rows_are_filtered_by_team_tier_and_city_and_listed_newest_first() -> None:
    rows = [
        {"ticket_id": "T-1", "teams": ["a"], "tier": "gold", "city": "广州", "at": minutes(5)},
        {"ticket_id": "T-2", "teams": ["b"], "tier": "silver", "city": "深圳", "at": minutes(50)},
        {"ticket_id": "T-3", "teams": ["a", "b"], "tier": "gold", "city": "深圳", "at": minutes(20)},
    ]
    assert [r["ticket_id"] for r in views.newest_first(rows, 10)] == ["T-2", "T-3", "T-1"]
    assert [r["ticket_id"] for r in views.newest_first(rows, 1)] == ["T-2"]
    assert [r["ticket_id"] for r in views.filtered(rows, {"team": "a", "tier": "", "city": "深圳"})] == ["T-3"]
    assert [r["ticket_id"] for r in views.filtered(rows, {"tier": "gold"})] == ["T-1", "T-3"]
    assert views.choices(rows) == {"team": ["a", "b"], "tier": ["gold", "silver"], "city": ["广州", "深圳"]}


@given(st.lists(st.tuples(st.sampled_from(["T-1", "T-2", "T-3"]), st.integers(0, 10_000)), max_size=30),
       st.integers(0, 40))  # fmt: skip
def test_newest_first_keeps_the_newest_rows_in_order(items: list[tuple[str, int]], limit: int) -> None:
    rows = [{"ticket_id": t, "at": T0 + timedelta(seconds=s)} for t, s in items]
    shown = views.newest_first(rows, limit)
    assert len(shown) == min(limit, len(rows))
    assert all(a["at"] >= b["at"] for a, b in itertools.pairwise(shown))
    if shown and len(rows) > limit:
        assert min(r["at"] for r in shown) >= sorted((r["at"] for r in rows), reverse=True)[limit - 1]


# ── notifications ────────────────────────────────────────────────────────────────────────────────────────────


def _outcome(event) -> dict[str, Any]:
    return {"_id": event.notification_id, "ticket_id": event.ticket_id, "channel": event.channel,
            "recipient_role": event.recipient_role, "attempts": event.attempts, "at": event.occurred_at,
            "outcome": "sent" if event.type == "NotificationSent" else "failed",
            "error": getattr(event, "error", None)}  # fmt: skip


def test_notification_rows_are_newest_first_with_notifys_text_where_it_answered() -> None:
    from tests.unit.reporting.builders import failed

    docs = [_outcome(sent("N-1", "T-1", at=5)), _outcome(failed("N-2", "T-1", at=9, attempts=3))]
    rows = views.notification_rows(docs, {"N-1": {"text": "【中国移动】您的专线故障已受理", "state": "sent"}})
    assert [(r["notification_id"], r["outcome"], r["attempts"]) for r in rows] == [
        ("N-2", "failed", 3),
        ("N-1", "sent", 1),
    ]
    assert rows[0]["error"] == "SMS gateway 503" and rows[0]["text"] is None
    assert rows[1]["text"].startswith("【中国移动】")
    down = views.notification_rows(docs, None, "failed")
    assert [(r["notification_id"], r["text"]) for r in down] == [("N-2", None)]


# ── words ────────────────────────────────────────────────────────────────────────────────────────────────────


def test_the_pages_words_are_in_both_languages_and_merged_into_the_dashboards_catalog() -> None:
    mine = i18n_pages.CATALOG
    assert set(mine["zh-CN"]) == set(mine["en"]) and all(k.startswith(("nav.", "pg.")) for k in mine["en"])
    assert set(mine["en"]) <= set(CATALOG["en"]) and CATALOG["zh-CN"]["nav.kpis"] == "指标"
    for name in trends.RATES:
        assert f"pg.kpi.{name}" in mine["en"]
    for cause in ("operator_equipment", "operator_work", "customer_side", "interconnection", "third_party",
                  "not_a_fault", "unresolved"):  # fmt: skip
        assert f"pg.cause.{cause}" in mine["en"]
    for audience in ("director", "deputy_gm", "leadership"):
        assert f"pg.audience.{audience}" in mine["en"]


def test_a_code_without_a_word_shows_itself() -> None:
    t = CATALOG["en"].get

    def translate(key: str) -> str:
        return t(key, key)

    assert word(translate, "pg.cause.", "customer_side") == "customer side"
    assert word(translate, "pg.role.", "night_watch") == "night_watch"
    assert word(translate, "pg.role.", None) == ""
