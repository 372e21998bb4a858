"""Wiring of the intake service: its routers, its database setup, its HTTP edge."""

from __future__ import annotations

from fastapi import FastAPI

from huying.clock import Clock
from huying.service import ServiceSpec, create_app
from huying.settings import load_settings
from intake import handlers, store
from intake.settings import IntakeSettings

SPEC = ServiceSpec(
    name="intake",
    title="intake",
    description="Takes every report from every channel and turns it into exactly one ticket.",
    settings=IntakeSettings,
    kafka_routers=handlers.routers,
    setup=store.setup,
)


def create(settings: IntakeSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_app(SPEC, settings or load_settings(IntakeSettings), clock=clock)
