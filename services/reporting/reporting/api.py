"""Reporting's HTTP edge: the operator dashboard and the figures it shows."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from reporting import store

STATIC = Path(__file__).with_name("static")


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @api.get("/v1/summary", summary="What reporting knows so far: CRM customers by tier, service lines by category")
    async def summary(request: Request) -> dict[str, dict[str, int]]:
        return await store.crm_summary(request.app.state.runtime.db)

    return api
