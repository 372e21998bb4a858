"""The CRM replica on the real database: batches racing on the same records leave the newest, duplicates change
nothing, no list of applied ids grows, and no write scans a collection."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from huying.crm_replica import apply_crm_events, crm_order
from huying.events import CustomerUpserted, ServiceLineUpserted
from huying.mongo import make_mongo_client
from huying.settings import ServiceSettings
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
