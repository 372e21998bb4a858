"""Wiring of the dispatch service: its routers, its database setup, its HTTP edge."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from dispatch import api, handlers, operations, store
from dispatch.config_loader import config_from
from dispatch.settings import DispatchSettings
from huying.cache import TtlCache
from huying.clock import Clock
from huying.rebuild import read_models_ready, start_read_models
from huying.service import Runtime, ServiceSpec, create_app
from huying.settings import load_settings

log = logging.getLogger("dispatch")
RECOUNT_KEY = "dispatch_recount_task"


async def setup(runtime: Runtime) -> None:
    """Load and cross-check routing rules and roster (a bad file stops start-up), create indexes."""
    settings = runtime.settings
    assert isinstance(settings, DispatchSettings)
    config = config_from(settings)
    runtime.broker.context.set_global(operations.CONTEXT_KEY, config)
    runtime.broker.context.set_global(operations.CUSTOMER_CACHE_KEY, TtlCache(settings.crm_cache_seconds))
    if set(config.policy.customer_service_teams) != set(settings.customer_service_teams):
        # sla-watch grants reading every ticket's SLA clocks by the shared setting, dispatch by its roster
        log.warning(
            "the roster's customer_service_teams %s differ from HUYING_CUSTOMER_SERVICE_TEAMS %s: the services "
            "disagree on who reads every ticket",
            sorted(config.policy.customer_service_teams),
            sorted(settings.customer_service_teams),
        )
    await store.setup(runtime.db)
    await store.recount_loads(runtime.db)
    await start_read_models(runtime)  # the CRM replica: replayed from the beginning if the database is stale
    task = asyncio.create_task(_recount_loads(runtime, settings.load_recount_seconds), name="dispatch-recount-loads")
    runtime.broker.context.set_global(RECOUNT_KEY, task)


async def _recount_loads(runtime: Runtime, every: float) -> None:
    """Heal the per-member load counters now and then (see store.shift_loads)."""
    while True:
        await asyncio.sleep(every)
        try:
            await store.recount_loads(runtime.db)
        except Exception:
            log.exception("recounting the members' loads failed; the next round retries")


async def teardown(runtime: Runtime) -> None:
    task = runtime.broker.context.get(RECOUNT_KEY)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


SPEC = ServiceSpec(
    name="dispatch",
    title="dispatch",
    description="The ticket lifecycle: routing, acceptance, operator actions, suspension, audit trail.",
    settings=DispatchSettings,
    kafka_routers=handlers.routers,
    http_routers=lambda: [api.router()],
    outbox_collections=(store.TICKETS,),
    setup=setup,
    teardown=teardown,
    readiness=read_models_ready,
)


def create(settings: DispatchSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_app(SPEC, settings or load_settings(DispatchSettings), clock=clock)
