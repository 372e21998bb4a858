"""The KPI rollups, pure (reporting.domain.rollups): a query's range is split into partial days, whole days and whole
months that tile it exactly; the finest rows of some facts, summed for any grouping and filter, are what the direct
aggregation's semantics give (a reference written here from docs/reporting.md "How the database computes them");
a month's rows (its days' merged) answer as its days do. And the queue's stored fields follow its rules."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporting import store
from reporting.domain import kpis
from reporting.domain import rollups as r
from reporting.domain.facts import SHANGHAI
from reporting.web import queue
from tests.bench import reporting_data as data
from tests.unit.reporting.builders import accepted, closed, dispatched, entries, opened, resolved, started

pytestmark = pytest.mark.unit
KEYS = ("period", "tier", "city", "team", "category", "level")
FIELD = {"tier": "tier", "city": "city", "category": "category", "level": "assurance_level"}

instants = st.datetimes(min_value=datetime(2024, 12, 1), max_value=datetime(2026, 3, 1), timezones=st.just(UTC))


@given(instants, instants, st.booleans())
def test_a_range_is_tiled_by_partial_days_whole_days_and_whole_months(a: datetime, b: datetime, by_day: bool) -> None:
    start, end = min(a, b), max(a, b)
    span = r.plan(start, end, by_day=by_day)
    parts = sorted([*span["edges"], *span["days"], *([span["months"]] if span["months"] else [])])
    if start == end:
        assert parts == []
        return
    assert parts[0][0] == start and parts[-1][1] == end
    assert all(x[1] == y[0] for x, y in itertools.pairwise(parts))  # contiguous, no overlap
    for lo, hi in span["edges"]:
        assert r.next_midnight(lo) + timedelta(days=1) > hi  # holds no whole day: those are the rollups''
    for lo, hi in [*span["days"], *([span["months"]] if span["months"] else [])]:
        assert r.midnight(lo) == lo and r.midnight(hi) == hi
    if span["months"]:
        assert not by_day and all(m.astimezone(SHANGHAI).day == 1 for m in span["months"])


def test_a_plan_of_whole_months_reads_the_months_and_the_days_around_them() -> None:
    s = datetime(2025, 1, 20, 13, tzinfo=SHANGHAI)
    e = datetime(2025, 4, 3, 8, tzinfo=SHANGHAI)
    span = r.plan(s, e, by_day=False)
    day = lambda m, d: datetime(2025, m, d, tzinfo=SHANGHAI)  # noqa: E731
    assert span["edges"] == [(s, day(1, 21)), (day(4, 3), e)]
    assert span["days"] == [(day(1, 21), day(2, 1)), (day(4, 1), day(4, 3))]
    assert span["months"] == (day(2, 1), day(4, 1))
    assert r.plan(s, e, by_day=True)["days"] == [(day(1, 21), day(4, 3))]


def _facts(seed: int, count: int) -> list[dict[str, Any]]:
    """Folded tickets over three months, a few without a tier (an incident's shape) or without a team."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        city = rng.choice(data.CITIES[:4])
        teams = tuple(rng.sample([data.ACCESS_TEAM[city], "x-overlay", "y-other"], rng.choice((1, 1, 2))))
        reported = datetime(2025, 1, 1, tzinfo=SHANGHAI) + timedelta(minutes=rng.uniform(0, 90 * 1440))
        events = data.closed_ticket(rng, f"T-{i}", reported=reported, tier=rng.choice(data.TIERS),
                                    category=rng.choice(("access", "overlay")), teams=teams)  # fmt: skip
        doc = data.document(events, f"T-{i}")
        doc["city"] = city
        if rng.random() < 0.08:
            del doc["tier"]
        if rng.random() < 0.05:
            doc["teams"], doc["by_team"] = [], kpis.by_team({**doc, "teams": []})
        out.append(doc)
    return out


def reference(facts: list[dict[str, Any]], group_by: list[str], period: str, filters: dict[str, str]) -> dict:
    """The direct aggregation's semantics over facts in Python: {group key: (summed contribution, breaches)}."""
    team = filters.get("team")
    narrow = [f for f in facts if all(f.get(FIELD[k]) == v for k, v in filters.items() if k != "team")]
    narrow = [f for f in narrow if not team or team in f["teams"]]

    def items(per_team: bool) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        if not per_team:
            return [(f, f) for f in narrow]
        return [(f, s) for f in narrow for s in f["by_team"] if not team or s["team"] == team]

    def ident(f: dict[str, Any], share: dict[str, Any]) -> tuple:
        fields = {**{k: FIELD.get(k) for k in group_by}, "period": period, "team": None}
        out = []
        for k in group_by:
            if k == "team":
                out.append((k, share["team"]))
            elif fields[k] in f:
                out.append((k, f[fields[k]]))
        return tuple(out)

    def summed(per_team: bool, keyed: bool) -> dict:
        acc: dict[tuple, list] = {}
        for f, part in items(per_team):
            k = ident(f, part) if keyed else ()
            acc.setdefault(k, [[], []])
            acc[k][0].append(part["kpi"])
            acc[k][1] += [(b["clock"], b["cause"]) for b in part["breaches"]]
        return {k: (kpis.totals(v[0]), sorted(v[1])) for k, v in acc.items()}

    return {"groups": summed("team" in group_by or bool(team), True), "all": summed(bool(team), False)}


def rendered(found: dict[str, list[dict[str, Any]]], group_by: list[str]) -> dict:
    """`answer`'s rows in the reference's shape."""

    def part(rows: str, breaches: str, keyed: bool) -> dict:
        out: dict[tuple, Any] = {}
        for row in found[rows]:
            k = tuple((g, row["_id"][g]) for g in group_by if g in (row["_id"] or {})) if keyed else ()
            out[k] = [store.unflatten(row), []]
        for row in found[breaches]:
            k = tuple((g, row["_id"][g]) for g in group_by if g in row["_id"]) if keyed else ()
            out[k][1] += [(row["_id"]["clock"], row["_id"]["cause"])] * row["n"]
        return {k: (v[0], sorted(v[1])) for k, v in out.items()}

    return {"groups": part("groups", "breaches", True), "all": part("all", "all_breaches", False)}


def buckets_by_day(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    days: dict[str, list] = {}
    for f in facts:
        days.setdefault(f["day"], []).append(f)
    return [{"day": d, "month": d[:7], **r.rows_of(docs, store.ALIASES)} for d, docs in days.items()]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-6 * max(1.0, abs(a))
    return a == b


queries = st.tuples(
    st.lists(st.sampled_from(KEYS), unique=True, max_size=3),
    st.sampled_from(store.PERIODS),
    st.dictionaries(st.sampled_from(("tier", "city", "team", "category")),
                    st.sampled_from(("gold", "广州", data.ACCESS_TEAM["广州"], "x-overlay", "access", "nope")),
                    max_size=2),
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), queries)
def test_summed_rows_answer_every_grouping_and_filter_as_the_direct_aggregation(seed: int, query: tuple) -> None:
    group_by, period, filters = query
    facts = _facts(seed, 40)
    found = r.answer(buckets_by_day(facts), group_by=group_by, period=period, filters=filters, sums=store.ALIASES)
    expected = reference([{**f, "period": f[period]} for f in facts], group_by, period, filters)
    got = rendered(found, group_by)
    assert got.keys() == expected.keys()
    for part in ("groups", "all"):
        assert got[part].keys() == expected[part].keys()
        for k, (sums, breaches) in expected[part].items():
            assert _close(got[part][k][0], sums) and got[part][k][1] == breaches


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), queries)
def test_a_month_of_merged_days_answers_as_its_days(seed: int, query: tuple) -> None:
    group_by, period, filters = query
    days = [b for b in buckets_by_day(_facts(seed, 30)) if b["month"] == "2025-02"]
    month = {"month": "2025-02", **r.merge(days)}
    if period == "day":
        group_by = [k for k in group_by if k != "period"]
    by_day = r.answer(days, group_by=group_by, period=period, filters=filters, sums=store.ALIASES)
    by_month = r.answer([month], group_by=group_by, period=period, filters=filters, sums=store.ALIASES)
    assert _close(rendered(by_month, group_by), rendered(by_day, group_by))


def test_combined_answers_add_rows_of_the_same_group() -> None:
    one = {"groups": [{"_id": {"tier": "gold"}, "tickets": 1}], "all": [{"_id": None, "tickets": 1}],
           "breaches": [], "all_breaches": [{"_id": {"clock": "restore", "cause": "x"}, "n": 1}]}  # fmt: skip
    two = {"groups": [{"_id": {"tier": "gold"}, "tickets": 2}, {"_id": {}, "tickets": 5}],
           "all": [{"_id": None, "tickets": 7}], "breaches": [],
           "all_breaches": [{"_id": {"cause": "x", "clock": "restore"}, "n": 2}]}  # fmt: skip
    both = r.combine(one, two)
    assert sorted(both["groups"], key=lambda g: len(g["_id"])) == [
        {"_id": {}, "tickets": 5},
        {"_id": {"tier": "gold"}, "tickets": 3},
    ]
    assert both["all"] == [{"_id": None, "tickets": 8}] and both["all_breaches"][0]["n"] == 3


def test_a_missing_field_stays_apart_from_a_null_one_as_in_group() -> None:
    base = _facts(1, 2)
    without, null = {**base[0]}, {**base[1], "tier": None}
    del without["tier"]
    rows = r.rows_of([without, null], store.ALIASES)["groups"]
    assert sorted("tier" in row["k"] for row in rows) == [False, True]


def test_the_stored_next_deadline_is_the_running_clock_due_first_and_queue_teams_leave_with_the_ticket() -> None:
    events = [opened("T-Q"), dispatched("T-Q"), started("T-Q", "acceptance", at=1, due=11, subject="gz-access-ops"),
              started("T-Q", "restore", at=0, due=240)]  # fmt: skip
    doc = store.document(entries(*events))
    assert doc["next_deadline"] == queue.next_clock(doc)["deadline"] == started("T-Q", "restore", at=0,
                                                                               due=11).deadline  # fmt: skip
    assert doc["queue_teams"] == ["gz-access-ops"]
    done = store.document(entries(*events, accepted("T-Q"), resolved("T-Q", restored=30), closed("T-Q", at=40)))
    assert done["next_deadline"] is None and queue.next_clock(done) is None  # every work-in-hand clock ended
    assert done["queue_teams"] is None
    assert store.document(entries(opened("T-N")))["next_deadline"] is None  # no clock started yet


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_a_bucket_name_has_a_four_digit_year_parses_back_and_sorts_as_time(when: datetime) -> None:
    day = r.day_of(when)  # a fuzzed `from=0225-07-11` once made '225-07-11', which no day parses back from
    assert len(day) == 10 and datetime.fromisoformat(day).date() == when.astimezone(r.SHANGHAI).date()
    assert r.month_of(when) == day[:7] and r.day_of(when + timedelta(days=1)) > day
