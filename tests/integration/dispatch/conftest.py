"""A running dispatch service (in-process, real Kafka, real database) and an operator-side HTTP client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dispatch.app import create
from dispatch.settings import DispatchSettings
from huying.access import Principal, Role
from huying.clock import ManualClock
from huying.events import Event
from huying.service import Runtime
from tests.support.auth import bearer
from tests.support.kafka import consume, produce, wait_until
from tests.unit.dispatch.builders import T0, opened  # noqa: F401 - re-exported to the integration tests

AGENT = Principal(sub="op-gz-01", role=Role.AGENT, teams=["gz-access-ops"])
AGENT2 = Principal(sub="op-gz-02", role=Role.AGENT, teams=["gz-access-ops"])
SZ = Principal(sub="op-sz-01", role=Role.AGENT, teams=["sz-access-ops"])
FS = Principal(sub="op-fs-01", role=Role.AGENT, teams=["fs-access-ops"])
SUPERVISOR = Principal(sub="sup-gd-01", role=Role.SUPERVISOR, teams=["gd-duty-supervisors"])
CS = Principal(sub="cs-01", role=Role.AGENT, teams=["cs-10086"])


@dataclass
class Dispatch:
    settings: DispatchSettings
    runtime: Runtime
    clock: ManualClock
    http: httpx.AsyncClient
    bootstrap: str

    def headers(self, who: Principal) -> dict[str, str]:
        return bearer(self.settings, who, now=self.clock.now())

    async def post(self, ticket_id: str, action: str, who: Principal, body: dict | None = None) -> httpx.Response:
        return await self.http.post(f"/v1/tickets/{ticket_id}/{action}", json=body, headers=self.headers(who))

    async def get(self, path: str, who: Principal) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(who))

    def topic(self, family: str) -> str:
        return getattr(self.runtime.topics, family).name

    async def produce(self, family: str, *events: Event) -> None:
        await produce(self.bootstrap, self.topic(family), *events)

    async def ticket(self, ticket_id: str, **conditions: Any) -> dict[str, Any]:
        """Wait until the ticket exists (and matches the conditions), then return its document."""
        return await wait_until(lambda: self.runtime.db.tickets.find_one({"_id": ticket_id, **conditions}))

    async def published(self, count: int, ticket_id: str | None = None) -> list[dict[str, Any]]:
        """Wait until the outbox is drained, then the events dispatch published (of one ticket), in order."""
        await wait_until(lambda: self._drained())
        records = await consume(self.bootstrap, self.topic("tickets"), count=count)
        events = [_json(r.value) for r in records]
        return [e for e in events if e["producer"] == "dispatch" and ticket_id in (None, e["ticket_id"])]

    async def _drained(self) -> bool:
        return await self.runtime.db.tickets.count_documents({"outbox_pending": True}) == 0


def _json(raw: bytes) -> dict[str, Any]:
    import json

    return json.loads(raw)


@contextlib.asynccontextmanager
async def running(settings: DispatchSettings, bootstrap: str) -> AsyncIterator[Dispatch]:
    """The service started (its database client made now), with an HTTP client and a manual clock at T0."""
    clock = ManualClock(T0)
    app = create(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dispatch") as http:
            yield Dispatch(settings, app.state.runtime, clock, http, bootstrap)


@pytest.fixture
async def dispatch(infra, settings_for) -> AsyncIterator[Dispatch]:
    async with running(settings_for(DispatchSettings), infra.kafka_bootstrap) as d:
        yield d
