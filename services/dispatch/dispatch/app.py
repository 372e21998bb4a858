"""Wiring of the dispatch service: its routers, its database setup, its HTTP edge."""

from __future__ import annotations

from fastapi import FastAPI

from dispatch import handlers, store
from dispatch.settings import DispatchSettings
from huying.clock import Clock
from huying.service import ServiceSpec, create_app
from huying.settings import load_settings

SPEC = ServiceSpec(
    name="dispatch",
    title="dispatch",
    description="The ticket lifecycle: routing, acceptance, operator actions, suspension, audit trail.",
    settings=DispatchSettings,
    kafka_routers=handlers.routers,
    setup=store.setup,
)


def create(settings: DispatchSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_app(SPEC, settings or load_settings(DispatchSettings), clock=clock)
