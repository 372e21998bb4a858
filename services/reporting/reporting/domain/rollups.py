"""The KPI rollups, pure (the storage and its markers are reporting.rollups): a day's finest rows from its facts,
rows summed into coarser buckets, a query's range split into what the rollups and the facts answer, and the rows
of `store.kpi_groups_direct` (groups, breaches, all, all_breaches) rebuilt from rows.

A row is `{k: group id, s: [sums in the order of `sums`], b: [[clock, cause, breaches] …]}`; the
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
PARTS = ("groups", "team_groups")  # of the tickets, of the teams' shares
ANSWER = ("groups", "breaches", "all", "all_breaches")
Rows = dict[str, list[dict[str, Any]]]


# ------------------------------------------------------------------------------------------------ a day's rows
def _leaf(kpi: Mapping[str, Any], path: list[str]) -> Any:
    node: Any = kpi
    for name in path:
        node = node.get(name) if isinstance(node, Mapping) else None
    return node if isinstance(node, int | float) and not isinstance(node, bool) else 0


def _ident(facts: Mapping[str, Any]) -> dict[str, Any]:
    return {key: facts[field] for key, field in FINEST.items() if field in facts}


def rows_of(facts: Iterable[Mapping[str, Any]], sums: list[str]) -> Rows:
    """The finest rows of these facts: their contributions (`kpi`) and breaches, and their teams' shares'."""
    acc: dict[str, dict[tuple, dict[str, Any]]] = {part: {} for part in PARTS}
    paths = [alias.split("__") for alias in sums]

    def add(part: str, ident: dict[str, Any], kpi: Mapping[str, Any], breaches: Iterable[Mapping[str, Any]]) -> None:
        into = acc[part].setdefault(key(ident), {"k": ident, "s": [0] * len(sums), "b": {}})
        into["s"] = [a + _leaf(kpi, path) for a, path in zip(into["s"], paths, strict=True)]
        for breach in breaches:
            cause = (breach.get("clock"), breach.get("cause"))
            into["b"][cause] = into["b"].get(cause, 0) + 1

    for doc in facts:
        ident = _ident(doc)
        add("groups", ident, doc.get("kpi") or {}, doc.get("breaches") or [])
        for share in doc.get("by_team") or []:
            mine = {**ident, **({"team": share["team"]} if "team" in share else {})}
            add("team_groups", mine, share.get("kpi") or {}, share.get("breaches") or [])
    return {part: [_listed(row) for row in rows.values()] for part, rows in acc.items()}


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    return {"k": row["k"], "s": row["s"], "b": [[clock, cause, n] for (clock, cause), n in sorted(row["b"].items())]}


def key(ident: Mapping[str, Any] | None) -> tuple:
    return tuple(sorted((ident or {}).items(), key=lambda kv: kv[0]))


def merge(buckets: Iterable[Mapping[str, Any]]) -> Rows:
    """The rows of several buckets summed by their id (a month's from its days')."""
    acc: dict[str, dict[tuple, dict[str, Any]]] = {part: {} for part in PARTS}
    for bucket in buckets:
        for part in PARTS:
            for row in bucket.get(part, []):
                into = acc[part].setdefault(key(row["k"]), {"k": row["k"], "s": [0] * len(row["s"]), "b": {}})
                into["s"] = [a + b for a, b in zip(into["s"], row["s"], strict=True)]
                for clock, cause, n in row["b"]:
                    into["b"][(clock, cause)] = into["b"].get((clock, cause), 0) + n
    return {part: [_listed(row) for row in rows.values()] for part, rows in acc.items()}


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
    """The Shanghai day as `YYYY-MM-DD`, the year always four digits (strftime's %Y gives `225` for 225, which
    neither sorts with the others nor parses back)."""
    return when.astimezone(SHANGHAI).date().isoformat()


def month_of(when: datetime) -> str:
    return day_of(when)[:7]


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


ABSENT = object()  # a group key the facts did not have (apart from a null one, as in `$group`)


def parts_for(group_by: list[str], filters: Mapping[str, str]) -> list[str]:
    """The parts of a bucket an answer reads: the teams' shares only when grouped or filtered by team."""
    team = bool(filters.get("team"))
    shares = "team" in group_by or team
    return [p for p in PARTS if p.startswith("team_") in (shares, team)]


def answer(buckets: Iterable[Mapping[str, Any]], *, group_by: list[str], period: str, filters: Mapping[str, str],
           sums: list[str]) -> Rows:  # fmt: skip
    """What `store.kpi_groups_direct` answers for the facts these buckets sum. Grouped or filtered by team, the
    groups are of the teams' shares (the team rows); `all` is of the shares only when a team is asked for."""
    team = bool(filters.get("team"))
    shares = "team" in group_by or team
    wanted = list(filters.items())
    keys = [k for k in group_by if k != "period"]
    spot = group_by.index("period") if "period" in group_by else None
    groups: dict[tuple, list] = {}
    overall: dict[tuple, list] = {}
    counts: dict[tuple, int] = {}
    all_counts: dict[tuple, int] = {}
    for bucket in buckets:
        value = period_of(bucket, period) if spot is not None else ABSENT
        for part in PARTS:
            per_team = part.startswith("team_")
            to_group, to_all = per_team == shares, per_team == team
            if not (to_group or to_all):
                continue
            for row in bucket.get(part, ()):
                k = row["k"]
                if wanted and any(k.get(a, ABSENT) != b for a, b in wanted):
                    continue
                projected = [k.get(g, ABSENT) for g in keys]
                if spot is not None:
                    projected.insert(spot, value)
                at = tuple(projected)
                if to_group:
                    found = groups.get(at)
                    groups[at] = row["s"] if found is None else [a + b for a, b in zip(found, row["s"], strict=True)]
                    for clock, cause, n in row["b"]:
                        counts[(*at, clock, cause)] = counts.get((*at, clock, cause), 0) + n
                if to_all:
                    found = overall.get(())
                    overall[()] = row["s"] if found is None else [a + b for a, b in zip(found, row["s"], strict=True)]
                    for clock, cause, n in row["b"]:
                        all_counts[(clock, cause)] = all_counts.get((clock, cause), 0) + n
    names = [*group_by, "clock", "cause"]

    def ident(values: tuple, names: list[str]) -> dict[str, Any]:
        return {n: v for n, v in zip(names, values, strict=True) if v is not ABSENT}

    def summed(values: list) -> dict[str, Any]:
        return dict(zip(sums, values, strict=True))

    return {
        "groups": [{"_id": ident(at, group_by) if group_by else None, **summed(v)} for at, v in groups.items()],
        "all": [{"_id": None, **summed(v)} for v in overall.values()],
        "breaches": [{"_id": ident(at, names), "n": n} for at, n in counts.items()],
        "all_breaches": [{"_id": ident(at, ["clock", "cause"]), "n": n} for at, n in all_counts.items()],
    }


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
