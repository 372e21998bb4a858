"""Wiring of the intake service: its routers, its database setup, its HTTP edge."""

from __future__ import annotations

from fastapi import FastAPI

from huying.clock import Clock
from huying.rebuild import read_models_ready, start_read_models
from huying.service import Runtime, ServiceSpec, create_app
from huying.settings import load_settings
from intake import api, handlers, store
from intake.process import Intake
from intake.relay import IntakeRelay
from intake.settings import IntakeSettings


async def setup(runtime: Runtime) -> None:
    """Database indexes, the intake process (in the broker's context) and intake's own outbox relay."""
    await store.setup(runtime)
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    rules = settings.rules()
    db = store.IntakeStore(runtime.db, rules, crm_cache_seconds=settings.crm_cache_seconds, clock=runtime.clock)
    relay = IntakeRelay(
        runtime.broker,
        db,
        runtime.clock,
        poll_seconds=settings.outbox_poll_seconds,
        sweep_seconds=settings.sweep_seconds,
    )
    runtime.relay = relay  # started after the broker and stopped before it by the shared lifespan
    intake = Intake(
        db, rules, runtime.topics, runtime.clock, wake=relay.wake, duplicate_wait=settings.duplicate_wait_seconds
    )
    runtime.broker.context.set_global(handlers.INTAKE, intake)
    await start_read_models(runtime)  # the CRM replica: replayed from the beginning if the database is stale


SPEC = ServiceSpec(
    name="intake",
    title="intake",
    description=(
        "Takes every report from every channel (HTTP and Kafka) and every monitoring alarm, and turns each into "
        "exactly one outcome: a ticket, a link to an existing ticket or mass-outage incident, or a record."
    ),
    settings=IntakeSettings,
    kafka_routers=handlers.routers,
    http_routers=lambda: [api.http_router()],
    setup=setup,
    readiness=read_models_ready,
)


def create(settings: IntakeSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_app(SPEC, settings or load_settings(IntakeSettings), clock=clock)
