"""KPI trends for the dashboard's charts, pure: the last N periods (day, ISO week or month, Shanghai time) ending
with the one `now` is in, the database's per-day rows folded into weeks, and one series per KPI over the periods
(a period with nothing due is a gap, never 0 %). No I/O, `now` is given.

GET /v1/kpis groups by the facts' own `day` / `month` (reporting.domain.facts); it has no week, so a week is the
sum of its days' contributions (sums add up; rates are computed from the sums, never averaged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from reporting.domain import kpis
from reporting.domain.facts import SHANGHAI

PERIODS = ("day", "week", "month")
# How many periods a chart shows unless asked (our choice: two weeks of days, a quarter of weeks, a year of months)
# and at most (a chart of more points is unreadable at a desk's width).
DEFAULT_COUNT = {"day": 14, "week": 13, "month": 12}
MAX_COUNT = 60
# The rates drawn as lines (every rate of kpis.RATES; satisfaction is added as a rate too).
RATES = (*kpis.RATES, "satisfaction")


@dataclass(frozen=True)
class Bucket:
    label: str
    start: datetime  # Shanghai time, inclusive
    end: datetime  # exclusive


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=SHANGHAI)


def _month_start(year: int, month: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, 1)


def buckets(now: datetime, period: str, count: int) -> list[Bucket]:
    """The `count` periods ending with the one `now` falls in (Shanghai time), oldest first."""
    if period not in PERIODS:
        raise ValueError(f"period {period!r}: one of {PERIODS}")
    today = now.astimezone(SHANGHAI).date()
    out: list[Bucket] = []
    for back in range(count - 1, -1, -1):
        if period == "day":
            first = today - timedelta(days=back)
            out.append(Bucket(f"{first:%Y-%m-%d}", _midnight(first), _midnight(first + timedelta(days=1))))
        elif period == "week":
            first = today - timedelta(days=today.weekday(), weeks=back)
            out.append(Bucket(week_label(first), _midnight(first), _midnight(first + timedelta(days=7))))
        else:
            first = _month_start(today.year, today.month - back)
            following = _month_start(first.year, first.month + 1)
            out.append(Bucket(f"{first:%Y-%m}", _midnight(first), _midnight(following)))
    return out


def store_period(period: str) -> str:
    """What the database groups by for a chart period (a week is summed from its days)."""
    return "day" if period == "week" else period


def relabel(found: dict[str, list[dict[str, Any]]], to_label: Callable[[str], str]) -> dict[str, list[dict[str, Any]]]:
    """`store.kpi_groups` rows grouped by `period` with each period renamed by `to_label` and the rows of one new
    name summed (days into weeks); breach counts likewise. The overall rows are unchanged."""

    def fold(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        merged: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            key = dict(row["_id"] or {})
            key["period"] = to_label(str(key.get("period")))
            ident = tuple((k, key[k]) for k in sorted(key))
            into = merged.setdefault(ident, {"_id": key})
            for name, value in row.items():
                if name != "_id" and isinstance(value, int | float):
                    into[name] = into.get(name, 0) + value
        return list(merged.values())

    return {
        **found,
        "groups": fold(found.get("groups", [])),
        "breaches": fold(found.get("breaches", [])),
    }


def to_week(day_label: str) -> str:
    return week_label(date.fromisoformat(day_label))


def _rate(figures: dict[str, Any], name: str) -> float | None:
    value = figures.get(name, {}).get("rate")
    return None if value is None else round(value * 100, 2)


def series(answer: dict[str, Any], periods: list[Bucket]) -> dict[str, Any]:
    """One value per period for the charts, from a GET /v1/kpis answer grouped by `period` alone: every rate in
    percent (None where nothing was due), tickets, breaches and the mean net restore time in minutes."""
    by_label = {g["key"].get("period"): g for g in answer.get("groups", [])}
    labels = [b.label for b in periods]
    empty: dict[str, Any] = {"kpis": kpis.figures({}), "breaches": []}
    groups = [by_label.get(label, empty) for label in labels]
    mttr = [g["kpis"]["mttr"]["mean_seconds"] for g in groups]
    return {
        "labels": labels,
        "order": list(RATES),  # the rates' order for the legend (a JSON object's keys come sorted by |tojson)
        "rates": {name: [_rate(g["kpis"], name) for g in groups] for name in RATES},
        "tickets": [g["kpis"]["tickets"] for g in groups],
        "breaches": [sum(b["count"] for b in g["breaches"]) for g in groups],
        "mttr_minutes": [None if m is None else round(m / 60, 1) for m in mttr],
    }


def current_table(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The current period's rows: each rate's met, due and percent, in the order of the charts."""
    rows = []
    for name in RATES:
        f = figures.get(name, {})
        met, due = (f.get("satisfied"), f.get("records")) if name == "satisfaction" else (f.get("met"), f.get("due"))
        rows.append({"name": name, "met": met or 0, "due": due or 0, "percent": _rate(figures, name)})
    return rows
