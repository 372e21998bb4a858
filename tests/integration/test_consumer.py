"""A service's consumer over real Kafka and the real database: effect once, poison to the DLQ, ordering kept."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from huying.dlq import DeadLetter
from huying.events import CustomerUpserted, ServiceLineUpserted
from intake.app import create
from intake.settings import IntakeSettings
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
        await produce(infra.kafka_bootstrap, topic, b"not json at all", bad, key=key)
        await produce(infra.kafka_bootstrap, topic, line("L-after-poison"))
        await wait_until(lambda: runtime.db.service_lines.find_one({"_id": "L-after-poison"}))

    letters = [
        DeadLetter.model_validate_json(r.value) for r in await consume(infra.kafka_bootstrap, f"{topic}.dlq", count=2)
    ]
    assert [letter.original_value() for letter in letters] == [b"not json at all", bad]
    assert all(letter.original_topic == topic and letter.consumer == settings.group_id for letter in letters)
    assert "tier" in letters[1].error and "platinum" in letters[1].error
    assert letters[0].key_b64 is not None
