"""`/healthz` (the process answers), `/readyz` (Kafka, the database and the service's own checks answer),
`/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from huying.mongo import database_ready


async def kafka_ready(broker: Any, *, timeout: float = 2.0) -> bool:
    """True when the broker answers a cluster-metadata request within the timeout."""
    try:
        return bool(await asyncio.wait_for(broker.ping(timeout=timeout), timeout + 0.5))
    except Exception:
        return False


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process is up")
    async def healthz(request: Request) -> dict[str, str]:
        return {"status": "ok", "service": request.app.state.runtime.settings.service_name}

    @router.get("/readyz", summary="Readiness: Kafka, the database and the service's own checks")
    async def readyz(request: Request) -> JSONResponse:
        runtime = request.app.state.runtime
        kafka, database = await asyncio.gather(kafka_ready(runtime.broker), database_ready(runtime.db))
        checks = {"kafka": kafka, "database": database}
        extra = getattr(request.app.state, "readiness", None)
        if extra is not None:
            checks |= await extra(runtime)
        ready = all(checks.values())
        body = {"ready": ready, "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.runtime.metrics), media_type=CONTENT_TYPE_LATEST)

    return router
