"""The dashboard's other pages (issue 14 item 4): incidents with their children, breaches and escalations, the
notification outbox (and a ticket's notifications), and the KPI charts with trends. Server-rendered like the queue;
each page's fragment re-fetches itself on `huying:changed` (static/dashboard.js, from the live-update stream).

Who reads what: every operator reads these pages, limited to the tickets they may read (`huying.access.reads_ticket`:
agents and team leads their teams' tickets); the KPI page, its exports and the quarterly report need
`Permission.KPIS` (team leads and above), as `GET /v1/kpis` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from huying.access import Permission, Principal, allowed, reads_ticket
from reporting import api, store
from reporting.domain import kpis
from reporting.domain.facts import SHANGHAI
from reporting.web import reads, trends, views
from reporting.web.i18n import LANG_COOKIE
from reporting.web.routes import ENV, credential, csrf_token, render, session
from reporting.web.routes import query_string as _query_string

DAYS = (1, 7, 30)  # the windows a page offers, by report time (our choice: a shift's day, a week, a month)
DEFAULT_DAYS = 7


def may_read_kpis(who: Principal | None) -> bool:
    return who is not None and allowed(who, Permission.KPIS)


def word(t: Any, prefix: str, value: Any) -> str:
    """A code's word (`prefix` + value) in the page's language, or the code itself when the catalog has none."""
    key = f"{prefix}{value}"
    found = t(key)
    return str(value or "") if found == key else found


ENV.globals["may_read_kpis"] = may_read_kpis
ENV.globals["word"] = word


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def _login(request: Request) -> Response:
    """No session: as the queue does (routes.py): a page goes to the login form, htmx is told to with a 401."""
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse("/login", status_code=303)


def _page(request: Request, who: Principal) -> dict[str, Any]:
    return {"who": who, "csrf": csrf_token(request), "server_now": _runtime(request).clock.now()}


def _days(request: Request) -> int:
    asked = request.query_params.get("days", "")
    return int(asked) if asked.isdigit() and int(asked) in DAYS else DEFAULT_DAYS


def _since(request: Request) -> datetime:
    return _runtime(request).clock.now() - timedelta(days=_days(request))


def _readable(request: Request, who: Principal):
    """Whether this operator reads a ticket: its teams' for agents and team leads, every one for customer service's
    teams (the shared HUYING_CUSTOMER_SERVICE_TEAMS, as the queue), supervisors and admins."""
    everything = list(_runtime(request).settings.customer_service_teams)
    return lambda facts: reads_ticket(who, facts.get("teams", []), everything)


async def _incidents(request: Request, who: Principal) -> dict[str, Any]:
    db = _runtime(request).db
    found = await reads.incidents(db, _since(request))
    for incident in found:
        opened = incident.pop("opened", None) or [{}]
        incident["reason"] = opened[0].get("reason")
    kids = await reads.children(db, found)
    rows = views.incidents(views.incident_row(i, kids, _readable(request, who)) for i in found)
    return {"incidents": rows, "days": _days(request), "day_choices": DAYS}


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "") for k in views.FILTERS}


async def _breaches(request: Request, who: Principal) -> dict[str, Any]:
    found = [f for f in await reads.troubled(_runtime(request).db, _since(request)) if _readable(request, who)(f)]
    breaches = [r for f in found for r in views.breach_rows(f)]
    escalations = [r for f in found for r in views.escalation_rows(f)]
    filters = _filters(request)
    return {
        "breaches": views.newest_first(views.filtered(breaches, filters), reads.LIMIT),
        "escalations": views.newest_first(views.filtered(escalations, filters), reads.LIMIT),
        "choices": views.choices([*breaches, *escalations]), "filters": filters, "days": _days(request),
        "day_choices": DAYS,
    }  # fmt: skip


async def _texts(request: Request, ticket_id: str | None) -> dict[str, dict[str, Any]] | None:
    """notify's message texts, or None (the page says so) when notify does not answer."""
    settings = _runtime(request).settings
    try:
        return await reads.notify_texts(settings.notify_url, credential(request)[0], ticket_id=ticket_id,
                                        timeout=settings.forward_timeout_seconds)  # fmt: skip
    except (httpx.HTTPError, ValueError):
        return None


async def _notifications(request: Request, who: Principal) -> dict[str, Any]:
    db = _runtime(request).db
    ticket = request.query_params.get("ticket", "").strip()
    outcome = request.query_params.get("outcome", "")
    outcome = outcome if outcome in ("sent", "failed") else ""
    if ticket:
        doc = await reads.team_of(db, ticket)
        ids = [ticket] if doc is not None and _readable(request, who)(doc) else []
    else:
        ids = [f["_id"] for f in await reads.reported_since(db, _since(request)) if _readable(request, who)(f)]
    found = await reads.outcomes(db, ids)
    texts = await _texts(request, ticket or None) if found else {}
    rows = views.notification_rows(found, texts, outcome)[: reads.LIMIT]
    filters = {"ticket": ticket, "outcome": outcome, "days": str(_days(request))}
    return {"notifications": rows, "notify_down": texts is None, "filters": filters, "days": _days(request),
            "day_choices": DAYS}  # fmt: skip


def _period(request: Request) -> tuple[str, int]:
    period = request.query_params.get("period", "day")
    period = period if period in trends.PERIODS else "day"
    asked = request.query_params.get("n", "")
    count = int(asked) if asked.isdigit() and 1 <= int(asked) <= trends.MAX_COUNT else trends.DEFAULT_COUNT[period]
    return period, count


def _quarter(request: Request, now: datetime) -> tuple[int, int]:
    local = now.astimezone(SHANGHAI)
    year, quarter = request.query_params.get("year", ""), request.query_params.get("quarter", "")
    y = int(year) if year.isdigit() and 2000 <= int(year) <= 9998 else local.year
    q = int(quarter) if quarter.isdigit() and 1 <= int(quarter) <= 4 else (local.month - 1) // 3 + 1
    return y, q


async def kpi_trend(db: Any, *, now: datetime, period: str, count: int) -> dict[str, Any]:
    """The chart's series and the current period's figures from the functions GET /v1/kpis uses
    (store.kpi_groups, api.kpi_response), grouped by period over the last `count` periods."""
    periods = trends.buckets(now, period, count)
    start, end = periods[0].start, periods[-1].end
    found = await store.kpi_groups(db, start=start, end=end, group_by=["period"], period=trends.store_period(period),
                                   filters={})  # fmt: skip
    if period == "week":
        found = trends.relabel(found, trends.to_week)
    answer = api.kpi_response(found, ["period"])
    chart = trends.series(answer, periods)
    current = next((g["kpis"] for g in answer["groups"] if g["key"].get("period") == periods[-1].label), None)
    query = {"from": start.isoformat(), "to": end.isoformat(), "period": trends.store_period(period),
             "group_by": "period"}  # fmt: skip
    return {"chart": chart, "current": current or kpis.figures({}), "query": query, "period": period,
            "count": count, "current_label": periods[-1].label}  # fmt: skip


async def _kpis(request: Request, who: Principal) -> dict[str, Any]:
    runtime = _runtime(request)
    now = runtime.clock.now()
    period, count = _period(request)
    found = await kpi_trend(runtime.db, now=now, period=period, count=count)
    year, quarter = _quarter(request, now)
    lang = "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"
    q = found["query"]
    export = _query_string({"from": q["from"], "to": q["to"], "period": q["period"], "group_by": "period",
                            "lang": lang})  # fmt: skip
    report = {"year": year, "quarter": quarter, "lang": "zh"}  # the report the center files is Chinese (api.LANG)
    return {**found, "table": trends.current_table(found["current"]), "export_query": export,
            "quarterly_xlsx": _query_string({**report, "format": "xlsx"}),
            "quarterly_pdf": _query_string({**report, "format": "pdf"}), "year": year, "quarter": quarter,
            "periods": trends.PERIODS}  # fmt: skip


def router() -> APIRouter:
    web = APIRouter(include_in_schema=False)

    def page(path: str, template: str, fragment: str, build, *, kpis: bool = False) -> None:
        async def full(request: Request) -> Response:
            who = session(request)
            if who is None:
                return _login(request)
            if kpis and not may_read_kpis(who):
                return render(request, template, status=403, **_page(request, who), forbidden=True)
            return render(request, template, **_page(request, who), forbidden=False, **await build(request, who))

        async def part(request: Request) -> Response:
            who = session(request)
            if who is None:
                return _login(request)
            if kpis and not may_read_kpis(who):
                return Response(status_code=403)
            return render(request, fragment, oob=True, **await build(request, who))

        web.add_api_route(path, full, methods=["GET"])
        web.add_api_route(f"/fragments{path}", part, methods=["GET"])

    page("/incidents", "incidents.html", "_incidents.html", _incidents)
    page("/breaches", "breaches.html", "_breaches.html", _breaches)
    page("/notifications", "notifications.html", "_notifications.html", _notifications)
    page("/kpis", "kpis.html", "_kpis.html", _kpis, kpis=True)

    @web.get("/fragments/tickets/{ticket_id}/notifications")
    async def ticket_notifications(ticket_id: str, request: Request) -> Response:
        who = session(request)
        if who is None:
            return _login(request)
        db = _runtime(request).db
        doc = await reads.team_of(db, ticket_id)
        if doc is None or not _readable(request, who)(doc):
            return render(request, "_ticket_notifications.html", status=404, notifications=[], notify_down=False,
                          ticket_id=ticket_id)  # fmt: skip
        found = await store.notifications_of(db, ticket_id)
        texts = await _texts(request, ticket_id) if found else {}
        return render(request, "_ticket_notifications.html", notifications=views.notification_rows(found, texts),
                      notify_down=texts is None, ticket_id=ticket_id)  # fmt: skip

    return web
