"""Reporting's HTTP edge: the operator dashboard and the figures it shows. Operators only (huying.auth), by token
or by the dashboard's session cookie: the page for every operator, the figures for team leads and above."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Security
from fastapi.responses import FileResponse

from huying.access import Permission
from huying.auth import OPERATOR_RESPONSES, require
from reporting import store

STATIC = Path(__file__).with_name("static")
# Read by the browser, so the session cookie counts too (reads only: see huying.auth.operator).
SIGN_IN = "there is no login page yet: put a token in the huying_session cookie (`make run` prints one)"
DASHBOARD = require(Permission.DASHBOARD, cookie=True, hint=SIGN_IN)
KPIS = require(Permission.KPIS, cookie=True)


def router() -> APIRouter:
    api = APIRouter(responses=OPERATOR_RESPONSES)

    @api.get(
        "/",
        summary="The operator dashboard (HTML); 401 until signed in (the login page comes later)",
        response_class=FileResponse,
        responses={200: {"content": {"text/html": {}}}},
        dependencies=[Security(DASHBOARD)],
    )
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @api.get(
        "/v1/summary",
        summary="What reporting knows so far: CRM customers by tier, service lines by category",
        dependencies=[Security(KPIS)],
    )
    async def summary(request: Request) -> dict[str, dict[str, int]]:
        return await store.crm_summary(request.app.state.runtime.db)

    return api
