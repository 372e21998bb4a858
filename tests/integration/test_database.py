"""The MongoDB semantics the stores rely on (huying.mongo), proven on the real server the tests run against:
atomic single-document updates under concurrency, one winner per version race, E11000 on inserts and updates,
TTL indexes, and the idempotent inserts of huying.idempotency."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from huying.idempotency import insert_many_once, insert_once

pytestmark = pytest.mark.integration


@pytest.fixture
async def things(names, mongo):
    yield mongo[names.database("db")].things
    await mongo.drop_database(names.database("db"))


async def test_concurrent_increments_from_many_clients_lose_nothing(infra, things) -> None:
    await things.insert_one({"_id": "counter", "n": 0})
    clients = [AsyncMongoClient(infra.mongodb_uri) for _ in range(8)]
    try:
        collections = [c[things.database.name].things for c in clients]

        async def bump(collection, times: int) -> None:
            for _ in range(times):
                await collection.update_one({"_id": "counter"}, {"$inc": {"n": 1}})

        await asyncio.gather(*(bump(collection, 50) for collection in collections))
    finally:
        for client in clients:
            await client.close()
    assert (await things.find_one({"_id": "counter"}))["n"] == 400


async def test_a_version_checked_update_has_exactly_one_winner_per_race(things) -> None:
    await things.insert_many([{"_id": f"v{n}", "version": 0} for n in range(20)])
    for n in range(20):
        results = await asyncio.gather(
            *(things.update_one({"_id": f"v{n}", "version": 0}, {"$inc": {"version": 1}}) for _ in range(6))
        )
        assert sum(r.modified_count for r in results) == 1
        assert (await things.find_one({"_id": f"v{n}"}))["version"] == 1


async def test_duplicate_keys_raise_on_insert_and_on_update(things) -> None:
    await things.create_index("natural", unique=True)
    await things.insert_many([{"_id": 1, "natural": "a"}, {"_id": 2, "natural": "b"}])
    with pytest.raises(DuplicateKeyError):
        await things.insert_one({"_id": 3, "natural": "a"})
    with pytest.raises(DuplicateKeyError):
        await things.update_one({"_id": 2}, {"$set": {"natural": "a"}})
    with pytest.raises(DuplicateKeyError):  # an upsert whose filter matches nothing inserts the existing _id
        await things.update_one({"_id": 1, "natural": "zz"}, {"$set": {"x": 1}}, upsert=True)
    assert await things.count_documents({"natural": "a"}) == 1


async def test_a_ttl_index_is_kept_with_its_expiry(things) -> None:
    await things.create_index("closed_at", expireAfterSeconds=3600)
    indexes = {i["name"]: i async for i in await things.list_indexes()}
    assert indexes["closed_at_1"]["expireAfterSeconds"] == 3600


async def test_insert_once_reports_the_duplicate(things) -> None:
    assert await insert_once(things, {"_id": "R-1", "x": 1})
    assert not await insert_once(things, {"_id": "R-1", "x": 2})
    assert (await things.find_one({"_id": "R-1"}))["x"] == 1


async def test_insert_many_once_returns_what_this_call_inserted(things) -> None:
    await things.insert_one({"_id": "R-2"})
    inserted = await insert_many_once(things, [{"_id": "R-1"}, {"_id": "R-2"}, {"_id": "R-3"}])
    assert inserted == {"R-1", "R-3"}
    assert await things.count_documents({}) == 3
