"""The PyMongo async client factory (MongoDB in production, SecantusDB locally and in tests).

Stores rely on MongoDB's single-document semantics only, which both servers honour: an update with a filter is
atomic (version checks, `$inc`, `$push`, `$pull`), duplicate keys raise E11000 on inserts and updates, indexes
are used by queries, TTL indexes expire documents. No multi-document transactions.

SecantusDB's planner, measured here (0.7.0b3), decides what a hot query may look like:
- an `_id` equality (or `$in`) is a primary-key lookup, alone or with more conditions (`{_id, version}`): ~1 ms
  flat from 1,000 to 100,000 documents, for finds and updates alike;
- any other filter is served by an index when one of its fields leads an index (single-field equality, `$in` or
  range); `explain` reports such a filter as an index scan only when one index covers all its fields;
- a sort is served by an index only ascending, on the indexed field of the filter; otherwise it sorts in memory
  after fetching every match (keep sorted results small, or sort ascending on an indexed field);
- a `limit` is applied after every match was fetched (`limit(100)` over 20,000 matches read all 20,000): bound a
  query by its filter (an `_id $in`, a range on an indexed key), not by its limit;
- `find_one_and_update` grows with the collection (22 ms at 1k, 228 ms at 10k documents): keep it off hot paths.
`tests/support/plans.py` records every command a store sends and fails a test on a query that scans.
"""

from __future__ import annotations

import asyncio
from datetime import UTC

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener

from huying.settings import ServiceSettings

# Command listeners every client made here gets (tests add a recorder to check the plans of a store's queries).
LISTENERS: list[CommandListener] = []


def make_mongo_client(settings: ServiceSettings) -> AsyncMongoClient:
    """A client that returns aware UTC datetimes and standard UUIDs; it connects lazily."""
    return AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(),
        tz_aware=True,
        tzinfo=UTC,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=5000,
        appname=f"huying-{settings.service_name}",
        event_listeners=list(LISTENERS),
    )


async def database_ready(db: AsyncDatabase, *, timeout: float = 2.0) -> bool:
    """True when the database answers a ping within the timeout."""
    try:
        await asyncio.wait_for(db.command("ping"), timeout)
    except Exception:
        return False
    return True
