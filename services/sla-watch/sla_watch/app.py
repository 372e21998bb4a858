"""Wiring of the sla-watch service: its routers, its database setup, its timers, its HTTP edge."""

from __future__ import annotations

from fastapi import FastAPI

from huying.clock import Clock
from huying.rebuild import read_models_ready, start_read_models
from huying.service import Runtime, ServiceSpec, create_app
from huying.settings import load_settings
from sla_watch import handlers, http, store
from sla_watch.settings import SlaWatchSettings
from sla_watch.watch import Watch


async def setup(runtime: Runtime) -> None:
    """The epochs of the CRM replica and of the ticket state (each replayed from the beginning when the database
    is stale: replaying.py), indexes, then the Watch
    the ticket subscriber and its rebalance listener use (timers load on assignment)."""
    await start_read_models(runtime)
    await store.setup(runtime)
    runtime.broker.context.set_global(handlers.WATCH, Watch(runtime))


async def readiness(runtime: Runtime) -> dict[str, bool]:
    """`partitions_loaded`: every partition this instance owns has its stored timers held. False from an
    assignment until its load is done (normally a moment; during a database outage, until the retried load
    succeeds), since until then none of that partition's stored timers can fire; true with nothing assigned.
    `tickets_caught_up`, `crm_caught_up`: the read models' replays are through (huying.rebuild)."""
    watch = runtime.broker.context.get(handlers.WATCH)
    return {"partitions_loaded": watch is not None and watch.loaded, **await read_models_ready(runtime)}


async def teardown(runtime: Runtime) -> None:
    """Stop firing before the consumer leaves the group, so the next owner never races a firing pass."""
    await runtime.broker.context.get(handlers.WATCH).stop()


SPEC = ServiceSpec(
    name="sla-watch",
    title="sla-watch",
    description="Durable, partition-owned SLA timers that fire within a second of every deadline.",
    settings=SlaWatchSettings,
    kafka_routers=handlers.routers,
    http_routers=http.http_routers,
    setup=setup,
    teardown=teardown,
    readiness=readiness,
)


def create(settings: SlaWatchSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_app(SPEC, settings or load_settings(SlaWatchSettings), clock=clock)
