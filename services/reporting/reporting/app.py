"""Wiring of the reporting service: its routers, its database setup, its HTTP edge."""

from __future__ import annotations

from fastapi import FastAPI

from huying.clock import Clock
from huying.rebuild import read_models_ready
from huying.service import ServiceSpec, create_app
from huying.settings import load_settings
from reporting import api, handlers, store
from reporting.settings import ReportingSettings

SPEC = ServiceSpec(
    name="reporting",
    title="reporting",
    description="Read models, KPIs, exports and the operator dashboard.",
    settings=ReportingSettings,
    kafka_routers=handlers.routers,
    http_routers=lambda: [api.router()],
    setup=store.setup,
    readiness=read_models_ready,
)


def create(settings: ReportingSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_app(SPEC, settings or load_settings(ReportingSettings), clock=clock)
