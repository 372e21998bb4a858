"""The CRM replica on the real database: batches racing on the same records leave the newest, duplicates change
nothing, no list of applied ids grows, and no write scans a collection."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from huying.crm_replica import apply_crm_events, crm_order, crm_router
from huying.dlq import DeadLetter
from huying.events import AssuranceLevel, CustomerGrade, CustomerUpserted, ServiceLineUpserted
from huying.mongo import make_mongo_client
from huying.service import ServiceSpec, create_app
from huying.settings import ServiceSettings
from notify.settings import NotifySettings
from tests.support.kafka import consume, produce, wait_until
from tests.support.plans import recording, scans, shapes

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def customer(n: int, revision: int, at: datetime = T0) -> CustomerUpserted:
    tier = ["gold", "silver", "bronze", "standard"][revision % 4]
    return CustomerUpserted(
        customer_id=f"C-{n:04d}", name=f"客户{n}", tier=tier, city="广州", revision=revision, occurred_at=at
    )


def line(n: int, revision: int) -> ServiceLineUpserted:
    return ServiceLineUpserted(
        service_line_id=f"L-{n:04d}", customer_id=f"C-{n:04d}", product="互联网专线", category="access",
        scope="intra_city", cities=["广州"], revision=revision, occurred_at=T0,
    )  # fmt: skip


def test_crm_order_sorts_by_revision_then_time() -> None:
    keys = [crm_order(1, T0), crm_order(1, T0 + timedelta(microseconds=1)), crm_order(2, T0 - timedelta(days=9))]
    assert keys == sorted(keys) and len(set(keys)) == 3
    assert crm_order(10, T0) > crm_order(9, T0 + timedelta(days=400))


async def test_the_replica_keeps_grade_assurance_level_and_product_family_and_a_newer_revision_changes_them(
    names, mongo
) -> None:
    """Issue 12's CRM facts reach every service's replica as CRM sent them (the ticket snapshot reads them there)."""
    db = mongo[names.database("crm")]
    first = customer(1, 1).model_copy(update={"grade": CustomerGrade.CITY_DIAMOND})
    level = line(1, 1).model_copy(update={"assurance_level": AssuranceLevel.AAA, "product_family": "internet"})
    await apply_crm_events(db, [first, level, customer(2, 1)])
    stored = {d["_id"]: d async for d in db.customers.find()}
    assert (stored["C-0001"]["grade"], stored["C-0002"]["grade"]) == ("city_diamond", "ordinary")
    held = await db.service_lines.find_one({"_id": "L-0001"})
    assert (held["assurance_level"], held["product_family"]) == ("AAA", "internet")
    await apply_crm_events(db, [customer(1, 2), line(1, 2)])  # CRM drops the diamond grade and the line's level
    assert (await db.customers.find_one({"_id": "C-0001"}))["grade"] == "ordinary"
    held = await db.service_lines.find_one({"_id": "L-0001"})
    assert (held["assurance_level"], held["product_family"]) == (None, None)
    await mongo.drop_database(db.name)


async def test_racing_shuffled_batches_leave_the_newest_revision_of_every_record(names, mongo) -> None:
    db = mongo[names.database("crm")]
    events = [customer(n, r) for n in range(50) for r in range(1, 6)] + [line(n, r) for n in range(50) for r in (1, 2)]
    batches = [random.sample(events, len(events)) for _ in range(4)]
    await asyncio.gather(*(apply_crm_events(db, batch) for batch in batches))
    customers = {d["_id"]: d async for d in db.customers.find()}
    assert len(customers) == 50 and {d["revision"] for d in customers.values()} == {5}
    assert all(d["tier"] == customer(0, 5).tier and "applied_events" not in d for d in customers.values())
    assert {d["revision"] async for d in db.service_lines.find()} == {2}
    newest = {str(e.event_id) for e in events if isinstance(e, CustomerUpserted) and e.revision == 5}
    assert {d["source_event_id"] for d in customers.values()} == newest
    assert await apply_crm_events(db, events) == 0  # all redelivered: nothing is written
    assert {d["_id"]: d async for d in db.customers.find()} == customers
    await mongo.drop_database(db.name)


async def test_the_replica_writes_by_primary_key_only(infra, names, mongo) -> None:
    settings = ServiceSettings(mongodb_uri=infra.mongodb_uri)
    with recording() as recorder:
        client = make_mongo_client(settings)
        db = client[names.database("crm")]
        await apply_crm_events(db, [customer(n, 1) for n in range(20)] + [line(n, 1) for n in range(20)])
        await apply_crm_events(db, [customer(n, 2) for n in range(20)])
        await client.close()
    assert shapes(recorder, database=db.name) == [
        "customers.find({_id: {$in: […]}})",
        "customers.update({_id: ·, crm_order: {$lt: ·}})",
        "service_lines.find({_id: {$in: […]}})",
    ]
    assert await scans(mongo, recorder, database=db.name) == []
    await mongo.drop_database(db.name)


async def test_a_record_written_before_crm_order_existed_is_moved_on_by_a_newer_event_only(names, mongo) -> None:
    db = mongo[names.database("crm")]
    old = {"_id": "C-0001", "tier": "silver", "revision": 2, "source_time": T0, "applied_events": ["e1", "e2"]}
    await db.customers.insert_one(old)
    assert await apply_crm_events(db, [customer(1, 1, at=T0 + timedelta(days=1))]) == 0  # older: ignored
    assert await db.customers.find_one({"_id": "C-0001"}) == old
    newer = customer(1, 3)
    assert await apply_crm_events(db, [newer]) == 1
    stored = await db.customers.find_one({"_id": "C-0001"})
    assert (stored["revision"], stored["crm_order"], stored["tier"]) == (3, crm_order(3, T0), newer.tier)
    assert "applied_events" not in stored
    await mongo.drop_database(db.name)


async def test_a_record_whose_follow_up_fails_for_good_is_dead_lettered_alone(infra, settings_for) -> None:
    async def follow_up(runtime, events) -> None:
        if any(getattr(e, "customer_id", None) == "C-0002" and isinstance(e, CustomerUpserted) for e in events):
            raise ValueError("C-0002 cannot be followed up")

    spec = ServiceSpec(
        name="crm-test", title="crm-test", description="", settings=NotifySettings,
        kafka_routers=lambda s, t: [crm_router(s, t, after=follow_up)],
    )  # fmt: skip
    settings = settings_for(NotifySettings)
    topic = f"{settings.topic_prefix}huying.crm.v1"
    events = [customer(n, 1) for n in range(5)]
    await produce(infra.kafka_bootstrap, topic, *events)  # one batch: the good four must not wait on the bad one
    app = create_app(spec, settings)
    async with app.router.lifespan_context(app):
        db = app.state.runtime.db
        await wait_until(lambda: _count(db, 5))
        letters = await consume(infra.kafka_bootstrap, f"{topic}.dlq", count=1)
    letter = DeadLetter.model_validate_json(letters[0].value)
    assert "C-0002 cannot be followed up" in letter.error
    assert CustomerUpserted.model_validate_json(letter.original_value()).event_id == events[2].event_id


async def _count(db, n: int) -> bool:
    return await db.customers.count_documents({}) >= n
