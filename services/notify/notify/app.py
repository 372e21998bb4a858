"""Wiring of the notify service: its routers, its database setup, its HTTP edge."""

from __future__ import annotations

from fastapi import FastAPI

from huying.clock import Clock
from huying.rebuild import read_models_ready
from huying.service import ServiceSpec, create_app
from huying.settings import load_settings
from notify import handlers, store
from notify.settings import NotifySettings

SPEC = ServiceSpec(
    name="notify",
    title="notify",
    description="Tells people what they must know, when they must know it: SMS, email, webhook.",
    settings=NotifySettings,
    kafka_routers=handlers.routers,
    setup=store.setup,
    readiness=read_models_ready,
)


def create(settings: NotifySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_app(SPEC, settings or load_settings(NotifySettings), clock=clock)
