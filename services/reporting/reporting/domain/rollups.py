"""The KPI rollups, pure (the storage and its markers are reporting.rollups): a day's finest rows from its facts,
rows summed into coarser buckets, a query's range split into what the rollups and the facts answer, and the rows
of `store.kpi_groups_direct` (groups, breaches, all, all_breaches) rebuilt from rows.

A row is `{k: group id, s: [sums in the order of `sums`]}` (or `{k: id with clock and cause, n: breaches}`); the
finest id is the ticket's tier, city, category and level (and for a team's share its team), each key present
exactly when the facts have the field, as the database's `$group` builds an id — so a group of any coarser keys is
a sum of finest rows, and a missing field stays apart from a null one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from reporting.domain.facts import SHANGHAI

FINEST = {"tier": "tier", "city": "city", "category": "category", "level": "assurance_level"}  # id key: field
PARTS = ("groups", "breaches", "team_groups", "team_breaches")
ANSWER = ("groups", "breaches", "all", "all_breaches")
Rows = dict[str, list[dict[str, Any]]]


# ------------------------------------------------------------------------------------------------ a day's rows
def _leaf(kpi: Mapping[str, Any], path: str) -> Any:
    node: Any = kpi
    for name in path.split("__"):
        node = node.get(name) if isinstance(node, Mapping) else None
    return node if isinstance(node, int | float) and not isinstance(node, bool) else 0


def _ident(facts: Mapping[str, Any]) -> dict[str, Any]:
    return {key: facts[field] for key, field in FINEST.items() if field in facts}


def rows_of(facts: Iterable[Mapping[str, Any]], sums: list[str]) -> Rows:
    """The finest rows of these facts: their contributions (`kpi`) and breaches, and their teams' shares'."""
    acc: dict[str, dict[tuple, dict[str, Any]]] = {part: {} for part in PARTS}

    def add(part: str, ident: dict[str, Any], kpi: Mapping[str, Any]) -> None:
        into = acc[part].setdefault(key(ident), {"k": ident, "s": [0] * len(sums)})
        into["s"] = [a + _leaf(kpi, alias) for a, alias in zip(into["s"], sums, strict=True)]

    def count(part: str, ident: dict[str, Any], breaches: Iterable[Mapping[str, Any]]) -> None:
        for breach in breaches:
            found = {**ident, **{k: breach[k] for k in ("clock", "cause") if k in breach}}
            acc[part].setdefault(key(found), {"k": found, "n": 0})["n"] += 1

    for doc in facts:
        ident = _ident(doc)
        add("groups", ident, doc.get("kpi") or {})
        count("breaches", ident, doc.get("breaches") or [])
        for share in doc.get("by_team") or []:
            mine = {**ident, **({"team": share["team"]} if "team" in share else {})}
            add("team_groups", mine, share.get("kpi") or {})
            count("team_breaches", mine, share.get("breaches") or [])
    return {part: list(rows.values()) for part, rows in acc.items()}


def key(ident: Mapping[str, Any] | None) -> tuple:
    return tuple(sorted((ident or {}).items(), key=lambda kv: kv[0]))


def merge(buckets: Iterable[Mapping[str, Any]]) -> Rows:
    """The rows of several buckets summed by their id (a month's from its days')."""
    acc: dict[str, dict[tuple, dict[str, Any]]] = {part: {} for part in PARTS}
    for bucket in buckets:
        for part in PARTS:
            for row in bucket.get(part, []):
                into = acc[part].get(key(row["k"]))
                if into is None:
                    acc[part][key(row["k"])] = {**row}
                elif "n" in row:
                    into["n"] += row["n"]
                else:
                    into["s"] = [a + b for a, b in zip(into["s"], row["s"], strict=True)]
    return {part: list(rows.values()) for part, rows in acc.items()}


# ------------------------------------------------------------------------------------------------ the range plan
def midnight(when: datetime) -> datetime:
    return when.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)


def next_midnight(when: datetime) -> datetime:
    floor = midnight(when)
    return floor if floor == when else midnight(floor + timedelta(days=1, hours=1))


def _next_month(day: datetime) -> datetime:
    return day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1, day=1)


def plan(start: datetime, end: datetime, *, by_day: bool) -> dict[str, Any]:
    """How [start, end) is read: `edges` (time ranges of the partial days, read from the facts), `days` (ranges of
    whole Shanghai days) and `months` (one range of whole months, or None), both read from the rollups. Whole months
    only when the answer is not grouped by day. The parts tile [start, end) exactly."""
    out: dict[str, Any] = {"edges": [], "days": [], "months": None}
    if end <= start:
        return out
    first, last = next_midnight(start), midnight(end)
    if first >= last:
        return {**out, "edges": [(start, end)]}
    out["edges"] = [(a, b) for a, b in ((start, first), (last, end)) if a < b]
    m0 = first if first.day == 1 else _next_month(first)
    m1 = last.replace(day=1)
    if by_day or m0 >= m1:
        return {**out, "days": [(first, last)]}
    return {**out, "days": [(a, b) for a, b in ((first, m0), (m1, last)) if a < b], "months": (m0, m1)}


def day_of(when: datetime) -> str:
    return f"{when.astimezone(SHANGHAI):%Y-%m-%d}"


def month_of(when: datetime) -> str:
    return f"{when.astimezone(SHANGHAI):%Y-%m}"


# ------------------------------------------------------------------------------------------------ the answer
def period_of(bucket: Mapping[str, Any], period: str) -> str:
    """A bucket's day, month, quarter or year (as the facts' period fields say it)."""
    if period == "day":
        return bucket["day"]
    month = bucket["month"]
    if period == "month":
        return month
    year, number = month.split("-")
    return f"{year}-Q{(int(number) - 1) // 3 + 1}" if period == "quarter" else year


def _passes(ident: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    return all(ident.get(k) == v for k, v in filters.items())


def _project(ident: Mapping[str, Any], keys: list[str], period_value: str | None) -> dict[str, Any]:
    """A finest id as a group of `keys` (a key the facts did not have stays absent, as in `$group`)."""
    source = {**ident, **({"period": period_value} if period_value is not None else {})}
    return {k: source[k] for k in keys if k in source}


def answer(buckets: Iterable[Mapping[str, Any]], *, group_by: list[str], period: str, filters: Mapping[str, str],
           sums: list[str]) -> Rows:  # fmt: skip
    """What `store.kpi_groups_direct` answers for the facts these buckets sum. Grouped or filtered by team, the
    groups are of the teams' shares (the team rows); `all` is of the shares only when a team is asked for."""
    team = bool(filters.get("team"))
    shares_grouped = "team" in group_by or team
    acc: dict[str, dict[tuple, dict[str, Any]]] = {part: {} for part in ANSWER}

    def add(target: str, ident: dict[str, Any] | None, row: Mapping[str, Any]) -> None:
        into = acc[target].setdefault(key(ident), {"_id": ident})
        if "n" in row:
            into["n"] = into.get("n", 0) + row["n"]
        else:
            for alias, value in zip(sums, row["s"], strict=True):
                into[alias] = into.get(alias, 0) + value

    for bucket in buckets:
        value = period_of(bucket, period) if "period" in group_by else None
        for part, per_team in (("groups", False), ("team_groups", True), ("breaches", False),
                               ("team_breaches", True)):  # fmt: skip
            breaches = part.endswith("breaches")
            for row in bucket.get(part, []):
                if not _passes(row["k"], filters):
                    continue
                cause = {k: row["k"][k] for k in ("clock", "cause") if k in row["k"]} if breaches else {}
                if per_team == shares_grouped:
                    grouped = _project(row["k"], group_by, value)
                    add("breaches" if breaches else "groups", {**grouped, **cause} if breaches else grouped or None,
                        row)  # fmt: skip
                if per_team == team:
                    add("all_breaches" if breaches else "all", cause if breaches else None, row)
    return {part: list(rows.values()) for part, rows in acc.items()}


def combine(*answers: Rows) -> Rows:
    """Several answers (the rollups', the partial days') as one: rows with the same id summed."""
    out: dict[str, dict[tuple, dict[str, Any]]] = {part: {} for part in ANSWER}
    for found in answers:
        for part, rows in out.items():
            for row in found.get(part, []):
                into = rows.setdefault(key(row["_id"]), {"_id": row["_id"]})
                for alias, value in row.items():
                    if alias != "_id":
                        into[alias] = into.get(alias, 0) + value
    return {part: list(rows.values()) for part, rows in out.items()}
