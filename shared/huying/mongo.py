"""The PyMongo async client factory (works against MongoDB and FerretDB v1 alike).

FerretDB v1 accepts but silently ignores some update forms that MongoDB honours; seen here with 1.24:
`$pull` with a query condition (use `$pullAll` with the exact elements) and the `$slice` modifier of `$push`
(keep arrays bounded some other way). Integration tests run every store on FerretDB, so a new use of an
unsupported operator shows up as a failing test, not as a production surprise.

FerretDB v1 on SQLite also uses no index for queries: its query expression for `_id` (`->'$._id'`) differs
from the expression its indexes are built on (`->"_id"`), and filters with more than the `_id` key are not
pushed down at all. Every find, update and delete therefore scans the collection: measured here, a find or
update by `_id` costs ~1.6 ms at 100 documents and ~18–40 ms at 4,000. Production MongoDB uses its indexes;
locally, keep hot collections small and measure at scale in benchmarks rather than assume.

Nor are FerretDB v1's updates atomic under concurrency: it reads, modifies and writes back, so concurrent updates of
one document can lose each other (see `huying.locks.KeyedLocks`). Inserts are atomic on both: a unique `_id` is the
one conflict check both databases enforce.
"""

from __future__ import annotations

import asyncio
from datetime import UTC

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from huying.settings import ServiceSettings


def make_mongo_client(settings: ServiceSettings) -> AsyncMongoClient:
    """A client that returns aware UTC datetimes and standard UUIDs; it connects lazily."""
    return AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(),
        tz_aware=True,
        tzinfo=UTC,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=5000,
        appname=f"huying-{settings.service_name}",
    )


async def database_ready(db: AsyncDatabase, *, timeout: float = 2.0) -> bool:
    """True when the database answers a ping within the timeout."""
    try:
        await asyncio.wait_for(db.command("ping"), timeout)
    except Exception:
        return False
    return True
