"""Reporting's HTTP API: the figures, exports and facts the dashboard shows (the pages are in reporting.web).
Operators only (huying.auth), by token or by the dashboard's session cookie: figures for team leads and above."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from huying.access import Permission, Principal, Role
from huying.auth import OPERATOR_RESPONSES, require
from huying.events import Category, Tier
from reporting import store
from reporting.answers import kpi_response
from reporting.domain import quality
from reporting.domain.facts import SHANGHAI
from reporting.exports import csvfile, pdf, quarterly, queries, snapshots, table, xlsx

KPIS = require(Permission.KPIS, cookie=True)
GROUPS = ("period", "tier", "city", "team", "category", "level")
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=SHANGHAI), datetime(9999, 1, 1, tzinfo=SHANGHAI)


def _aware(value: datetime | None, default: datetime) -> datetime:
    """A bound of the period; a time without a zone is Shanghai time (what operators read). Held within 1970–9999:
    no fact is older, and a year-1 bound in Shanghai is before year 1 in UTC, which the database cannot hold."""
    if value is None:
        return default
    aware = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    return min(max(aware, EARLIEST), LATEST)


def _group_by(raw: str) -> list[str]:
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = [k for k in keys if k not in GROUPS]
    if unknown:
        detail = [{"loc": ["query", "group_by"], "msg": f"unknown {unknown}; one of {list(GROUPS)}", "type": "value"}]
        raise HTTPException(422, detail=detail)
    return list(dict.fromkeys(keys))


@dataclass
class KpiQuery:
    """A KPI query as asked (`from`, `to`, grouping, filters) and its answer (the body of GET /v1/kpis)."""

    start: datetime
    end: datetime
    filters: dict[str, str]
    answer: dict[str, Any]


async def kpi_query(
    request: Request,
    start: datetime | None = Query(None, alias="from", description="Reported at or after (no zone: Shanghai)."),
    end: datetime | None = Query(None, alias="to", description="Reported before (no zone: Shanghai)."),
    group_by: str = Query("", description=f"Comma-separated, of {', '.join(GROUPS)}.", examples=["tier,city"]),
    period: Literal["day", "month", "quarter", "year"] = Query("month", description="What `period` groups by."),
    tier: Tier | None = None,
    city: str | None = None,
    team: str | None = None,
    category: Category | None = None,
) -> KpiQuery:
    """The query of GET /v1/kpis, shared by its CSV and XLSX exports."""
    keys = _group_by(group_by)
    asked = {"tier": tier, "city": city, "team": team, "category": category}
    filters = {k: str(v) for k, v in asked.items() if v}
    lo, hi = _aware(start, EARLIEST), _aware(end, LATEST)
    found = await store.kpi_groups(
        request.app.state.runtime.db, start=lo, end=hi, group_by=keys, period=period, filters=filters
    )
    body = {"from": lo, "to": hi, "period": period, "group_by": keys, "filters": filters}
    return KpiQuery(lo, hi, filters, {**body, **kpi_response(found, keys)})


def router() -> APIRouter:
    api = APIRouter(responses=OPERATOR_RESPONSES)

    @api.get(
        "/v1/summary",
        summary="What reporting knows so far: CRM customers by tier, service lines by category",
        dependencies=[Security(KPIS)],
    )
    async def summary(request: Request) -> dict[str, dict[str, int]]:
        return await store.crm_summary(request.app.state.runtime.db)

    @api.get(
        "/v1/kpis",
        summary="The KPIs of tickets reported in [from, to), grouped and filtered (docs/reporting.md)",
        dependencies=[Security(KPIS)],
    )
    async def kpi(query: KpiQuery = Depends(kpi_query)) -> dict[str, Any]:
        return jsonable_encoder(query.answer)

    add_export_routes(api)

    @api.get(
        "/v1/tickets/{ticket_id}/facts",
        summary="One ticket's facts: snapshot, clocks and outcomes, suspended and excluded time, follow-up",
        dependencies=[Security(KPIS)],
        responses={404: {"description": "No facts for this ticket"}},
    )
    async def facts(ticket_id: str, request: Request) -> dict[str, Any]:
        db = request.app.state.runtime.db
        doc = await store.facts_of(db, ticket_id)
        if doc is None:
            raise HTTPException(404, detail=f"no facts for {ticket_id}")
        if doc.get("kind") == "incident":
            doc["children"] = await store.children_of(db, ticket_id)
        doc["notifications"] = await store.notifications_of(db, ticket_id)
        return jsonable_encoder(doc)

    @api.get("/v1/lines/quality", summary="Per line, a year's faults and outage hours against 表75", dependencies=[
        Security(KPIS)])  # fmt: skip
    async def lines(request: Request, year: int = Query(..., ge=2000, le=9999)) -> dict[str, Any]:
        db = request.app.state.runtime.db
        alerts: dict[str, list[dict[str, Any]]] = {}
        for doc in await store.budget_events(db, year):
            alerts.setdefault(doc["service_line_id"], []).append(
                {k: doc[k] for k in ("measure", "state", "used", "budget", "at")}
            )
        out = []
        for row in sorted(await store.line_faults(db, year), key=lambda r: str(r["_id"])):
            used = {"repeat_faults": row["faults"], "outage_hours": (row["seconds"] or 0.0) / 3600}
            out.append({
                "service_line_id": row["_id"], "customer_id": row.get("customer_id"), "assurance_level": row["level"],
                **quality.against_budget(row["level"], used), "budget_events": alerts.pop(row["_id"], []),
            })  # fmt: skip
        for line_id, events in sorted(alerts.items()):  # sla-watch spoke of a line reporting has no counted fault of
            out.append({"service_line_id": line_id, "budget_events": events})
        return jsonable_encoder({"year": year, "lines": out})

    @api.get("/v1/follow-ups", summary="Closed tickets by follow-up state: owed, reminded or recorded",
             dependencies=[Security(KPIS)])  # fmt: skip
    async def follow_ups(request: Request, status: Literal["owed", "reminded", "recorded"] = "owed") -> dict[str, Any]:
        return jsonable_encoder({"status": status, "tickets": await store.follow_ups(request.app.state.runtime.db,
                                                                                    status)})  # fmt: skip

    return api


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Lang = Literal["zh", "en"]
LANG = Query("zh", description="zh: Chinese headers (the default, what the center files); en: English.")


def _attachment(body: bytes, media_type: str, filename: str, headers: dict[str, str] | None = None) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition, **(headers or {})})


def add_export_routes(api: APIRouter) -> None:
    """The exports (docs/reporting.md, "Exports and the quarterly report"): the KPI query as CSV and XLSX, and the
    quarterly report (季报) as XLSX or PDF from its immutable period snapshot."""

    @api.get(
        "/v1/kpis.csv",
        summary="GET /v1/kpis as CSV: UTF-8 with BOM, Chinese headers (lang=en: English), formula cells neutralised",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
        dependencies=[Security(KPIS)],
    )
    async def kpi_csv(query: KpiQuery = Depends(kpi_query), lang: Lang = LANG) -> Response:
        body = csvfile.table_csv(table.kpi_table(query.answer, lang))
        return _attachment(body, "text/csv; charset=utf-8", "kpis.csv")

    @api.get(
        "/v1/kpis.xlsx",
        summary="GET /v1/kpis as XLSX: the KPI sheet with a chart of the rates by group, and the masked facts",
        response_class=Response,
        responses={200: {"content": {XLSX: {}}}},
        dependencies=[Security(KPIS)],
    )
    async def kpi_xlsx(request: Request, query: KpiQuery = Depends(kpi_query), lang: Lang = LANG) -> Response:
        db = request.app.state.runtime.db
        rows = await queries.fact_rows(db, start=query.start, end=query.end, filters=query.filters)
        names = ("指标", "工单明细") if lang == "zh" else ("KPIs", "Facts")
        title = "各项指标达标率" if lang == "zh" else "KPI rates"
        body = await run_in_threadpool(
            xlsx.kpi_workbook, table.kpi_table(query.answer, lang), table.facts_table(rows, lang),
            sheet_names=names, chart_title=title,
        )  # fmt: skip
        return _attachment(body, XLSX, "kpis.xlsx")

    @api.get(
        "/v1/reports/quarterly",
        summary="The quarterly report (季报) of a quarter as XLSX or PDF, from its filed snapshot once the quarter is "
        "over (refresh=true, admins only: a new version)",
        response_class=Response,
        responses={
            200: {"content": {XLSX: {}, "application/pdf": {}}},
            400: {"description": "refresh and version together"},
            403: {"description": "refresh by someone who is not an admin"},
            404: {"description": "no such version"},
            409: {"description": "refresh of a quarter that is not over"},
        },
    )
    async def quarterly_report(
        request: Request,
        who: Principal = Security(KPIS),
        year: int = Query(..., ge=2000, le=9998),  # 9999: its fourth quarter would end in year 10000
        quarter: int = Query(..., ge=1, le=4),
        format: Literal["xlsx", "pdf"] = Query("xlsx"),
        lang: Lang = LANG,
        refresh: bool = Query(False, description="Admins: store a new version from the current data."),
        version: int | None = Query(None, ge=1, description="A filed version by number (default: the newest)."),
    ) -> Response:
        runtime = request.app.state.runtime
        try:
            doc = await snapshots.report(
                runtime.db, year, quarter, now=runtime.clock.now(), refresh=refresh, admin=who.role == Role.ADMIN,
                version=version, by=who.sub,
            )  # fmt: skip
        except quarterly.SnapshotError as error:
            raise HTTPException(error.status, detail=error.detail) from error
        if quarterly.content_hash(doc["data"]) != doc["hash"]:  # a filed report must stay intact
            raise HTTPException(500, detail=f"the stored snapshot of {doc['period']} does not match its hash")
        headers = {"X-Report-Version": str(doc["version"] or "live"), "X-Report-Hash": doc["hash"]}
        name = f"quarterly-{doc['period']}" + (f"-v{doc['version']}" if doc["version"] else "-live")
        if format == "pdf":
            body = await run_in_threadpool(pdf.render, doc, lang)
            return _attachment(body, "application/pdf", f"{name}.pdf", headers)
        body = await run_in_threadpool(quarterly_xlsx, doc, lang)
        return _attachment(body, XLSX, f"{name}.xlsx", headers)


def quarterly_xlsx(doc: dict[str, Any], lang: Lang) -> bytes:
    """The quarterly report's workbook from a snapshot document, dated by its generation time (same bytes again)."""
    data = doc["data"]
    title = quarterly.t("report", lang)
    subtitle = quarterly.t("quarter", lang, year=data["year"], quarter=data["quarter"])
    created = datetime.fromisoformat(data["generated_at"]).astimezone(UTC)
    return xlsx.report_workbook(
        title, subtitle, quarterly.sections(data, lang), contents=quarterly.t("contents", lang),
        blank_hint=quarterly.t("blank_hint", lang), created=created,
    )  # fmt: skip
