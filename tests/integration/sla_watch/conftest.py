"""Fixtures for sla-watch's integration tests: settings on the fast policy, the topics, the running app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from sla_watch.app import create
from sla_watch.settings import SlaWatchSettings
from tests.integration.sla_watch.support import FAST_POLICY, SlaTap, create_topics
from tests.support.auth import SUPERVISOR, bearer
from tests.support.kafka import wait_until


@pytest.fixture
async def sla_settings(infra, settings_for) -> SlaWatchSettings:
    settings = settings_for(SlaWatchSettings, policy_override=FAST_POLICY)
    await create_topics(infra.kafka_bootstrap, f"{settings.topic_prefix}huying.tickets.v1", sla_topic(settings))
    return settings


def sla_topic(settings: SlaWatchSettings) -> str:
    return f"{settings.topic_prefix}huying.sla.v1"


def tickets_topic(settings: SlaWatchSettings) -> str:
    return f"{settings.topic_prefix}huying.tickets.v1"


@asynccontextmanager
async def running(settings: SlaWatchSettings, *, partitions: int = 3) -> AsyncIterator[Any]:
    """The app with its lifespan, once it owns `partitions` partitions of the ticket topic."""
    app = create(settings)
    async with app.router.lifespan_context(app):
        watch = app.state.runtime.broker.context.get("sla_watch")
        await wait_until(lambda: _owns(watch, partitions), timeout=30)
        yield app


async def _owns(watch: Any, partitions: int) -> bool:
    return len(watch.scheduler.owned) >= partitions and not watch.scheduler.loading


@pytest.fixture
def http() -> Callable[[Any], httpx.AsyncClient]:
    """A client of the app that carries a supervisor's token (reads every ticket's clocks and the timers)."""

    def client(app: Any) -> httpx.AsyncClient:
        runtime = app.state.runtime
        headers = bearer(runtime.settings, SUPERVISOR, now=runtime.clock.now())
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sla-watch", headers=headers)

    return client


@pytest.fixture
async def tap(infra, sla_settings) -> AsyncIterator[SlaTap]:
    async with SlaTap(infra.kafka_bootstrap, sla_topic(sla_settings)) as t:
        yield t
