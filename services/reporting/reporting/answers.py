"""The shape of a KPI answer (the body of GET /v1/kpis), shared by the API, the exports, the quarterly report and
the dashboard's KPI page: the groups `store.kpi_groups` summed, as figures, and the breaches by clock and cause."""

from __future__ import annotations

from typing import Any

from reporting import store
from reporting.domain import kpis


def kpi_response(found: dict[str, list[dict[str, Any]]], group_by: list[str]) -> dict[str, Any]:
    """The groups of `store.kpi_groups` as KPIs: figures and breaches by clock and cause, per group and in all."""

    def breaches(key: dict[str, Any] | None) -> list[dict[str, Any]]:
        source = found["breaches"] if key is not None else found["all_breaches"]
        rows = [r for r in source if all(r["_id"].get(k) == v for k, v in (key or {}).items())]
        counted: dict[tuple[str, str], int] = {}
        for r in rows:
            pair = (r["_id"]["clock"], r["_id"]["cause"])
            counted[pair] = counted.get(pair, 0) + r["n"]
        return [{"clock": c, "cause": k, "count": n} for (c, k), n in sorted(counted.items())]

    def render(row: dict[str, Any], key: dict[str, Any] | None) -> dict[str, Any]:
        return {"key": key or {}, "kpis": kpis.figures(store.unflatten(row)), "breaches": breaches(key)}

    groups = [render(row, {k: (row["_id"] or {}).get(k) for k in group_by}) for row in found["groups"]]
    groups.sort(key=lambda g: [str(g["key"].get(k)) for k in group_by])
    total = render(found["all"][0], None) if found["all"] else render({}, None)
    return {"groups": groups if group_by else [], "all": total}
