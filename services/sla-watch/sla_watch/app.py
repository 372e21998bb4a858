"""Wiring of the sla-watch service: its routers, its database setup, its HTTP edge."""

from __future__ import annotations

from fastapi import FastAPI

from huying.clock import Clock
from huying.service import ServiceSpec, create_app
from huying.settings import load_settings
from sla_watch import handlers, store
from sla_watch.settings import SlaWatchSettings

SPEC = ServiceSpec(
    name="sla-watch",
    title="sla-watch",
    description="Durable, partition-owned SLA timers that fire within a second of every deadline.",
    settings=SlaWatchSettings,
    kafka_routers=handlers.routers,
    setup=store.setup,
)


def create(settings: SlaWatchSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_app(SPEC, settings or load_settings(SlaWatchSettings), clock=clock)
