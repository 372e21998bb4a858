"""The database reads of the exports: the masked facts of a KPI query, and everything a quarter's report shows
(`collect`, the data a snapshot stores). Every read of `ticket_facts` starts with the period's range on the
`reported_at` index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.encoders import jsonable_encoder
from pymongo.asynchronous.database import AsyncDatabase

from reporting import store
from reporting.answers import kpi_response
from reporting.exports import quarterly

FACT_LIMIT = 100_000  # rows of the facts sheet at most (Excel's sheet holds 1,048,576; the file stays a few MB)
# What the facts sheet and the typical cases read: classification and outcomes, never contacts or descriptions.
FACT_FIELDS = {
    "ticket_id": 1, "kind": 1, "reported_at": 1, "customer_id": 1, "service_line_id": 1, "tier": 1, "city": 1,
    "category": 1, "assurance_level": 1, "severity": 1, "severe_counted": 1, "status": 1, "cause_category": 1,
    "teams": 1, "restore_net_seconds": 1, "breaches": 1,
}  # fmt: skip


def _match(start: datetime, end: datetime, filters: dict[str, str]) -> list[dict[str, Any]]:
    team = filters.get("team")
    narrow = {k: v for k, v in filters.items() if k != "team"} | ({"teams": team} if team else {})
    stages: list[dict[str, Any]] = [{"$match": {"reported_at": {"$gte": start, "$lt": end}}}]
    return stages + ([{"$match": narrow}] if narrow else [])


async def fact_rows(db: AsyncDatabase, *, start: datetime, end: datetime, filters: dict[str, str],
                    limit: int = FACT_LIMIT) -> list[dict[str, Any]]:  # fmt: skip
    """The matched tickets' masked facts, in report order (time, then id)."""
    pipeline = [*_match(start, end, filters), {"$sort": {"reported_at": 1, "_id": 1}}, {"$limit": limit},
                {"$project": FACT_FIELDS}]  # fmt: skip
    rows = [row async for row in await db[store.FACTS].aggregate(pipeline)]
    for row in rows:
        row["ticket_id"] = row.get("ticket_id") or row["_id"]
        if row.get("reported_at") is not None:
            row["reported_at"] = row["reported_at"].astimezone(quarterly.SHANGHAI)
    return rows


async def _counts(db: AsyncDatabase, collection: str, field: str, head: list[dict[str, Any]] | None = None,
                  ) -> list[list[Any]]:  # fmt: skip
    pipeline = [*(head or []), {"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
    rows = [[row["_id"], row["n"]] async for row in await db[collection].aggregate(pipeline)]
    return sorted(rows, key=lambda r: (-r[1], str(r[0])))


WORK = {"by_category": "category", "by_cause": "cause_category", "by_city": "city", "by_status": "status"}


async def _work(db: AsyncDatabase, start: datetime, end: datetime) -> dict[str, Any]:
    """One pass over the quarter's tickets (not cancelled): counts by category, cause, city and status, and the
    typical cases' candidates (the severe faults and the longest other restorations, each list already cut)."""

    def top(match: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        order = {"restore_net_seconds": -1, "_id": 1}
        return [{"$match": match}, {"$sort": order}, {"$limit": limit}, {"$project": FACT_FIELDS}]

    facets: dict[str, list[dict[str, Any]]] = {
        key: [{"$group": {"_id": f"${field}", "n": {"$sum": 1}}}] for key, field in WORK.items()
    }
    facets["severe"] = top({"severity": "severe"}, quarterly.CASES)
    facets["longest"] = top({"severity": {"$ne": "severe"}, "restore_net_seconds": {"$gt": 0}}, quarterly.LONGEST)
    pipeline = [*_match(start, end, {}), {"$match": {"status": {"$ne": "cancelled"}}}, {"$facet": facets}]
    found = [row async for row in await db[store.FACTS].aggregate(pipeline)]
    row = found[0] if found else {}
    out: dict[str, Any] = {
        key: sorted([[r["_id"], r["n"]] for r in row.get(key, [])], key=lambda p: (-p[1], str(p[0]))) for key in WORK
    }
    candidates = [{**{k: r.get(k) for k in FACT_FIELDS if k != "breaches"}, "ticket_id": r.get("ticket_id") or
                   r["_id"], "breaches": len(r.get("breaches") or [])}
                  for r in row.get("severe", []) + row.get("longest", [])]  # fmt: skip
    out["cases"] = quarterly.typical_cases(candidates)
    return out


async def collect(db: AsyncDatabase, year: int, quarter: int, now: datetime) -> dict[str, Any]:
    """Everything the quarter's report shows, as JSON-ready data (what a snapshot stores and hashes)."""
    start, end = quarterly.quarter_bounds(year, quarter)

    async def figures(group_by: list[str], period: str = "quarter") -> dict[str, Any]:
        found = await store.kpi_groups(db, start=start, end=end, group_by=group_by, period=period, filters={})
        return jsonable_encoder(kpi_response(found, group_by))

    overall, tiers, months = await figures([]), await figures(["tier"]), await figures(["period"], "month")
    work = await _work(db, start, end)
    return jsonable_encoder({
        "period": quarterly.period_key(year, quarter), "year": year, "quarter": quarter,
        "from": start, "to": end, "generated_at": now,
        "customers": {
            "total": await db.customers.count_documents({}),
            "by_tier": await _counts(db, "customers", "tier"),
            "by_city": await _counts(db, "customers", "city"),
            "lines_by_category": await _counts(db, "service_lines", "category"),
        },
        "kpis": overall["all"]["kpis"],
        "kpis_by_tier": [[g["key"].get("tier"), g["kpis"]] for g in tiers["groups"]],
        "monthly": [[g["key"].get("period"), g["kpis"]] for g in months["groups"]],
        "breaches": overall["all"]["breaches"],
        "work": {"tickets": overall["all"]["kpis"].get("tickets", 0), **{k: work[k] for k in WORK}},
        "cases": work["cases"],
    })  # fmt: skip
