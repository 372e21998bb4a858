"""A service's consumer over real Kafka and the real database: effect once, poison to the DLQ, ordering kept, a
database outage waited out with backoff (not a hot loop) and the record processed once the database is back."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from faststream.kafka import KafkaRouter
from pymongo import AsyncMongoClient

from huying.dlq import DeadLetter
from huying.events import CustomerUpserted, ServiceLineUpserted
from huying.idempotency import insert_once
from huying.kafka import subscriber_options
from huying.rebuild import replica_of
from huying.service import ServiceSpec, create_app
from intake.app import create
from intake.settings import IntakeSettings
from notify.settings import NotifySettings
from tests.support.kafka import consume, produce, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@asynccontextmanager
async def running(app):
    async with app.router.lifespan_context(app):
        yield app.state.runtime


def customer(revision: int = 1, tier: str = "gold", at: datetime = T0, **kw) -> CustomerUpserted:
    return CustomerUpserted(
        customer_id="C-01-0001",
        name="广州某银行",
        tier=tier,
        city="广州",
        revision=revision,
        occurred_at=at,
        producer="crm",
        **kw,
    )


def line(line_id: str) -> ServiceLineUpserted:
    # same customer, so same partition: once this marker is applied, everything before it was handled
    return ServiceLineUpserted(
        service_line_id=line_id,
        customer_id="C-01-0001",
        product="互联网专线",
        category="access",
        scope="intra_city",
        cities=["广州"],
        occurred_at=T0,
    )


async def test_event_from_kafka_is_applied_once_and_a_redelivery_changes_nothing(infra, settings_for) -> None:
    settings = settings_for(IntakeSettings)
    topic = f"{settings.topic_prefix}huying.crm.v1"
    event = customer()
    async with running(create(settings)) as runtime:
        await produce(infra.kafka_bootstrap, topic, event)
        stored = await wait_until(lambda: runtime.db.customers.find_one({"_id": "C-01-0001"}))
        assert stored["tier"] == "gold"
        assert stored["source_event_id"] == str(event.event_id) and "applied_events" not in stored

        await produce(infra.kafka_bootstrap, topic, event, line("L-marker-1"))  # the same event again
        await wait_until(lambda: runtime.db.service_lines.find_one({"_id": "L-marker-1"}))
        assert await runtime.db.customers.find_one({"_id": "C-01-0001"}) == stored


async def test_an_older_revision_arriving_late_does_not_roll_the_customer_back(infra, settings_for) -> None:
    settings = settings_for(IntakeSettings)
    topic = f"{settings.topic_prefix}huying.crm.v1"
    async with running(create(settings)) as runtime:
        await produce(
            infra.kafka_bootstrap,
            topic,
            customer(revision=2, tier="silver"),
            customer(revision=1, tier="bronze", at=T0 + timedelta(minutes=5)),
            line("L-marker-2"),
        )
        await wait_until(lambda: runtime.db.service_lines.find_one({"_id": "L-marker-2"}))
        stored = await runtime.db.customers.find_one({"_id": "C-01-0001"})
        assert (stored["tier"], stored["revision"]) == ("silver", 2)

        await produce(infra.kafka_bootstrap, topic, customer(revision=3, tier="gold"))
        await wait_until(lambda: runtime.db.customers.find_one({"_id": "C-01-0001", "revision": 3}))


async def test_a_poison_message_goes_to_the_dlq_with_its_reason_and_the_partition_moves_on(infra, settings_for) -> None:
    settings = settings_for(IntakeSettings)
    topic = f"{settings.topic_prefix}huying.crm.v1"
    key = b"C-01-0001"
    bad = json.dumps({"type": "CustomerUpserted", "customer_id": "C-01-0001", "tier": "platinum"}).encode()
    async with running(create(settings)) as runtime:
        group = replica_of(runtime, "crm").group  # <group>.crm.<epoch>: the CRM replica's own consumer group
        await produce(infra.kafka_bootstrap, topic, b"not json at all", bad, key=key)
        await produce(infra.kafka_bootstrap, topic, line("L-after-poison"))
        await wait_until(lambda: runtime.db.service_lines.find_one({"_id": "L-after-poison"}))

    letters = [
        DeadLetter.model_validate_json(r.value) for r in await consume(infra.kafka_bootstrap, f"{topic}.dlq", count=2)
    ]
    assert [letter.original_value() for letter in letters] == [b"not json at all", bad]
    assert all(letter.original_topic == topic and letter.consumer == group for letter in letters)
    assert "tier" in letters[1].error and "platinum" in letters[1].error
    assert letters[0].key_b64 is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_database(infra, tmp_path, monkeypatch):
    """A SecantusDB of this test's own (another port, its own data), so stopping it disturbs no other test."""
    if infra.local is None:
        pytest.skip(f"infrastructure is {infra.kind}: only the local processes can be stopped by the test")
    monkeypatch.setenv("HUYING_MONGODB_PORT", str(free_port()))
    monkeypatch.setenv("HUYING_INFRA_STATE_DIR", str(tmp_path / "infra"))
    infra.local.start_secantus()
    try:
        yield infra.local, infra.local.env()["HUYING_MONGODB_URI"]
    finally:
        infra.local.stop_secantus()


OUTAGE = 5.0  # seconds the database stays away while handler runs are counted


async def test_a_database_outage_is_waited_out_with_backoff_and_the_record_is_processed_after(
    private_database, infra, settings_for, caplog
) -> None:
    """The handler's own client gives up server selection after 0.1 s, so each run during the outage fails fast
    (as a database that refuses connections at once does): without backoff it would run ~50 times in 5 s."""
    local, uri = private_database
    runs: list[tuple[str, float]] = []
    fast_failing: AsyncMongoClient = AsyncMongoClient(uri, serverSelectionTimeoutMS=100)
    seen = fast_failing.outage_test.seen

    def routers(settings, topics):
        router = KafkaRouter()

        @router.subscriber(topics.crm.name, **subscriber_options(settings), title="outage:crm")
        async def on_record(body: dict) -> None:
            runs.append((body["id"], time.monotonic()))
            await insert_once(seen, {"_id": body["id"]})  # a redelivery finds it there

        return [router]

    spec = ServiceSpec(name="notify", title="outage", description="", settings=NotifySettings, kafka_routers=routers)
    settings = settings_for(NotifySettings, mongodb_uri=uri, retry_max_seconds=2.0)
    topic = f"{settings.topic_prefix}huying.crm.v1"
    app = create_app(spec, settings)
    try:
        async with app.router.lifespan_context(app):
            await produce(infra.kafka_bootstrap, topic, b'{"id": "before"}', key=b"customer:before")  # compacted: keyed
            await wait_until(lambda: seen.find_one({"_id": "before"}), timeout=60)
            await asyncio.to_thread(local.stop_secantus)
            try:
                began = time.monotonic()
                await produce(infra.kafka_bootstrap, topic, b'{"id": "during"}', key=b"customer:during")
                await wait_until(lambda: _over(began + OUTAGE), timeout=OUTAGE + 5)
                during = [at for record, at in runs if record == "during" and at <= began + OUTAGE]
            finally:
                await asyncio.to_thread(local.start_secantus)
            await wait_until(lambda: seen.find_one({"_id": "during"}), timeout=60)
            retries = app.state.runtime.metrics.get_sample_value(
                "huying_consumer_retries_total", {"service": "notify", "topic": topic}
            )
    finally:
        await fast_failing.close()
    assert 1 <= len(during) < 15, f"{len(during)} handler runs in {OUTAGE} s of outage"
    lines = [r.getMessage() for r in caplog.records if r.name == "huying.dlq" and r.getMessage().startswith("retry ")]
    assert len(lines) == retries >= len(during) - 1  # one line per retry (not per second), each with its number
    assert [line.startswith(f"retry {n} of {topic}[") for n, line in enumerate(lines, 1)] == [True] * len(lines)
    assert len([record for record, _ in runs if record == "during"]) == retries + 1


async def _over(deadline: float) -> bool:
    return time.monotonic() >= deadline
