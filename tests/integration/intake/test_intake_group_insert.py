"""Group commit on the real database: concurrent single inserts share round trips, and each caller still learns
whether its own document went in — exactly one copy of a key wins, also when copies share a group."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener

from intake.store import GroupInsert

pytestmark = pytest.mark.integration


class Inserts(CommandListener):
    def __init__(self) -> None:
        self.sent = 0

    def started(self, event: Any) -> None:
        self.sent += event.command_name == "insert"

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


async def test_concurrent_inserts_go_in_groups_and_exactly_one_copy_of_each_key_wins(infra, names) -> None:
    inserts = Inserts()
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri, event_listeners=[inserts])
    collection = client[names.database("intake")]["reports"]
    try:
        group = GroupInsert(collection)
        assert await group.insert({"_id": "first"}) is True and inserts.sent == 1, "idle: it goes at once"
        keys = [f"k{n % 10}" for n in range(50)]  # five copies of each of ten keys, all at once

        results = await asyncio.gather(*(group.insert({"_id": key, "n": n}) for n, key in enumerate(keys)))

        winners = [key for key, won in zip(keys, results, strict=True) if won]
        assert sorted(winners) == sorted(set(keys)), "exactly one copy of each key is told it went in"
        assert inserts.sent <= 3, f"50 concurrent inserts took {inserts.sent - 1} round trips"
        assert await collection.count_documents({}) == 11
        assert await group.insert({"_id": "k0"}) is False
    finally:
        await client.drop_database(collection.database.name)
        await client.close()
