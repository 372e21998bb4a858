"""Fixtures for intake's integration tests: the running app over real Kafka and the real database, an HTTP
client with an API key, CRM seeding, and a reader of everything intake published on `huying.tickets.v1`."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr, TypeAdapter
from pymongo import AsyncMongoClient

from huying.crm_replica import apply_crm_event
from huying.events import CustomerUpserted, ServiceLineUpserted, TicketMessage
from intake.app import create
from intake.settings import IntakeSettings
from tests.support.auth import TOKEN_SECRET
from tests.support.kafka import declare_topics, wait_until

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
KEYS = {"10086-cc": "key-cc", "am-app": "key-am", "web": "key-web"}
TICKETS = TypeAdapter(TicketMessage)


def customer(customer_id: str, tier: str = "gold", city: str = "广州", **kw: Any) -> CustomerUpserted:
    return CustomerUpserted(customer_id=customer_id, name=f"客户{customer_id}", tier=tier, city=city, **kw)


def line(
    line_id: str,
    customer_id: str,
    category: str = "access",
    cities: tuple[str, ...] = ("广州",),
    product: str = "互联网专线",
    **kw: Any,
) -> Any:
    """A service line (intra-city when it has one city, else inter-city); `product_family`, `assurance_level`, … as
    keywords."""
    scope = "intra_city" if len(cities) == 1 else "inter_city"
    return ServiceLineUpserted(
        service_line_id=line_id,
        customer_id=customer_id,
        product=product,
        category=category,
        scope=kw.pop("scope", scope),
        cities=list(cities),
        **kw,
    )


def report(external_id: str, **kw: Any) -> dict[str, Any]:
    """An HTTP report body; override any field."""
    body = {
        "channel": "hotline",
        "external_id": external_id,
        "description": "专线中断",
        "reported_at": T0.isoformat(),
    }
    return {**body, **kw}


@dataclass
class Harness:
    settings: IntakeSettings
    app: Any
    http: httpx.AsyncClient
    bootstrap: str

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    @property
    def intake(self) -> Any:
        return self.runtime.broker.context.get("intake")

    def topic(self, family: str) -> str:
        return getattr(self.runtime.topics, family).name

    async def post(self, body: Any, *, key: str = "key-cc", **kw: Any) -> httpx.Response:
        return await self.http.post("/v1/reports", json=body, headers={"X-API-Key": key}, **kw)

    async def seed(self, *events: Any) -> None:
        """Put CRM data into the replica through the real replica code (the CRM topic path is tested apart)."""
        for event in events:
            await apply_crm_event(self.runtime.db, event)

    async def published(self, only: str = "", *, timeout: float = 30.0) -> list[Any]:
        """Ticket events intake published so far (those whose correlation id contains `only`), in partition
        order, once its outbox is empty."""
        outbox = self.runtime.db.outbox
        await wait_until(lambda: _empty(outbox), timeout=timeout)
        events = await read_all(self.bootstrap, self.topic("tickets"))
        return [e for e in events if only in (e.correlation_id or "")]


async def _empty(collection: Any) -> bool:
    return await collection.count_documents({}) == 0


async def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of the topic up to its current end, parsed as ticket events (with `.key` kept aside)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not partitions:
            await consumer._client.force_metadata_update()  # the topic may be brand new (aiokafka: no public call)
            partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        events: list[Any] = []
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = TICKETS.validate_json(record.value)
                    assert record.key == event.ticket_id.encode(), "ticket events are keyed by ticket id"
                    events.append(event)
        return events
    finally:
        await consumer.stop()


@pytest.fixture
def intake_settings(settings_for) -> Callable[..., IntakeSettings]:
    def make(**overrides: Any) -> IntakeSettings:
        return settings_for(IntakeSettings, api_keys=KEYS, **overrides)

    return make


@pytest.fixture
def running(infra) -> Callable[[IntakeSettings], Any]:
    @asynccontextmanager
    async def run(settings: IntakeSettings) -> AsyncIterator[Harness]:
        app = create(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
                yield Harness(settings, app, http, infra.kafka_bootstrap)

    return run


@pytest.fixture(scope="module")
async def intake(infra) -> AsyncIterator[Harness]:
    """One app for a whole module (starting one takes seconds): tests keep apart by their own ids and days."""
    token = uuid.uuid4().hex[:10]
    await declare_topics(infra.kafka_bootstrap, f"m{token}.")
    settings = IntakeSettings(
        kafka_bootstrap=infra.kafka_bootstrap,
        mongodb_uri=infra.mongodb_uri,
        topic_prefix=f"m{token}.",
        mongodb_database=f"m{token}_intake",
        outbox_poll_seconds=0.2,
        api_keys=KEYS,
        token_secret=SecretStr(TOKEN_SECRET),
    )
    app = create(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
                yield Harness(settings, app, http, infra.kafka_bootstrap)
    finally:
        client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri)
        await client.drop_database(settings.database_name)
        await client.close()


_days = itertools.count(1)


@pytest.fixture
def t0() -> datetime:
    """A day of its own for each test, so correlation windows of tests sharing an app never meet."""
    return T0 + timedelta(days=next(_days))
