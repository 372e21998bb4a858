"""apply_once and insert_once on the real database: duplicates (also concurrent ones) change nothing, and two
different events racing to create one document are both applied."""

from __future__ import annotations

import asyncio

import pytest

from huying.idempotency import apply_once, insert_once
from huying.locks import KeyedLocks

pytestmark = pytest.mark.integration


@pytest.fixture
async def things(names, mongo):
    yield mongo[names.database("idem")].things
    await mongo.drop_database(names.database("idem"))


async def test_concurrent_duplicates_of_one_event_apply_once(things) -> None:
    results = await asyncio.gather(*(apply_once(things, "C-1", "e1", {"$inc": {"n": 1}}) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert (await things.find_one({"_id": "C-1"}))["n"] == 1


async def test_two_different_events_racing_to_create_a_document_are_both_applied(things) -> None:
    # one upsert inserts; the other collides on _id and must fall back to a plain update, not count as a duplicate
    results = await asyncio.gather(*(apply_once(things, "C-2", f"e{i}", {"$inc": {"n": 1}}) for i in range(2)))
    doc = await things.find_one({"_id": "C-2"})
    assert all(results) and doc["n"] == 2 and sorted(doc["applied_events"]) == ["e0", "e1"]


async def test_updates_of_one_document_serialised_by_keyed_locks_lose_nothing(things) -> None:
    # FerretDB v1 does not make concurrent updates of one document atomic (see huying.locks); holding the key does.
    locks = KeyedLocks()
    await things.insert_one({"_id": "C-4", "n": 0})

    async def bump(i: int) -> bool:
        async with locks.hold("C-4"):
            return await apply_once(things, "C-4", f"e{i}", {"$inc": {"n": 1}})

    assert all(await asyncio.gather(*(bump(i) for i in range(10))))
    assert (await things.find_one({"_id": "C-4"}))["n"] == 10


async def test_a_guard_that_refuses_leaves_the_document_alone(things) -> None:
    assert await apply_once(things, "C-3", "e1", {"$set": {"revision": 5}})
    assert not await apply_once(things, "C-3", "e2", {"$set": {"revision": 4}}, guard={"revision": {"$lt": 4}})
    assert (await things.find_one({"_id": "C-3"}))["revision"] == 5


async def test_insert_once_reports_the_duplicate(things) -> None:
    assert await insert_once(things, {"_id": "R-1", "x": 1})
    assert not await insert_once(things, {"_id": "R-1", "x": 2})
    assert (await things.find_one({"_id": "R-1"}))["x"] == 1
