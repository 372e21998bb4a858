"""Wiring of the reporting service: its routers, its database setup, its HTTP edge."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from huying.clock import Clock
from huying.rebuild import read_models_ready
from huying.service import ServiceSpec, create_app
from huying.settings import load_settings
from reporting import api, handlers, store
from reporting.settings import ReportingSettings
from reporting.web import pages
from reporting.web import routes as web

STATIC = Path(__file__).with_name("static")

SPEC = ServiceSpec(
    name="reporting",
    title="reporting",
    description="Read models, KPIs, exports and the operator dashboard.",
    settings=ReportingSettings,
    kafka_routers=handlers.routers,
    # The dashboard's pages first: its `/` (login, the queue) answers before the API's former placeholder.
    http_routers=lambda: [web.router(), pages.router(), api.router()],
    setup=store.setup,
    readiness=read_models_ready,
)


def create(settings: ReportingSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    app = create_app(SPEC, settings or load_settings(ReportingSettings), clock=clock)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")  # the page's CSS, script and vendored htmx
    return app
