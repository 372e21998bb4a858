"""A running reporting service (in-process, real Kafka, real database), an HTTP client and a way to know it has
applied everything produced so far."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from huying.access import Principal
from huying.clock import ManualClock
from huying.events import Event
from huying.rebuild import LOG_POSITIONS
from huying.service import Runtime
from reporting.app import create
from reporting.settings import ReportingSettings
from tests.support.auth import bearer
from tests.support.kafka import produce, wait_until
from tests.unit.reporting.builders import T0


@dataclass
class Reporting:
    settings: ReportingSettings
    runtime: Runtime
    clock: ManualClock
    http: httpx.AsyncClient
    bootstrap: str
    produced: int = 0

    async def get(self, path: str, who: Principal | None, **params: Any) -> httpx.Response:
        headers = bearer(self.settings, who, now=self.clock.now()) if who else {}
        return await self.http.get(path, params=params, headers=headers)

    async def produce(self, family: str, *events: Event) -> None:
        await produce(self.bootstrap, getattr(self.runtime.topics, family).name, *events)
        self.produced += len(events)

    async def applied(self, records: int | None = None) -> None:
        """Wait until the read model's recorded positions account for every record on its topics (`records`, by
        default what this handle produced; topics are new, so each partition's next offset is its records applied)."""
        wanted = self.produced if records is None else records

        async def done() -> bool:
            found = self.runtime.db[LOG_POSITIONS].find({"model": "events"})
            return sum([doc["next_offset"] async for doc in found]) >= wanted

        await wait_until(done, timeout=60)


@contextlib.asynccontextmanager
async def running(settings: ReportingSettings, bootstrap: str) -> AsyncIterator[Reporting]:
    clock = ManualClock(T0 + timedelta(days=1))
    app = create(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as http:
            yield Reporting(settings, app.state.runtime, clock, http, bootstrap)


@pytest.fixture
def reporting_settings(settings_for) -> ReportingSettings:
    return settings_for(ReportingSettings)


@pytest.fixture
async def reporting(infra, reporting_settings) -> AsyncIterator[Reporting]:
    async with running(reporting_settings, infra.kafka_bootstrap) as r:
        yield r
