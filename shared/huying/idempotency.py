"""Idempotent inserts: a document keyed by its natural or event id is inserted once; the unique `_id` index turns
a second attempt into a no-op. (Updates carry their own guard in the filter: a version, a revision order.)"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

APPLIED = "applied_events"  # dispatch: the consumed event ids a ticket has applied (bounded by the ticket's life)


async def insert_once(collection: AsyncCollection, document: dict[str, Any]) -> bool:
    """Insert a document whose `_id` is its natural or event id; False if it was already there."""
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


async def insert_many_once(collection: AsyncCollection, documents: list[dict[str, Any]]) -> set[Any]:
    """Insert documents keyed by natural ids in one round trip; returns the `_id`s this call inserted (the others
    were already there). Any error other than a duplicate key is raised."""
    if not documents:
        return set()
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors) or error.details.get("writeConcernErrors"):
            raise
        taken = {e["index"] for e in errors}
        return {doc["_id"] for n, doc in enumerate(documents) if n not in taken}
    return {doc["_id"] for doc in documents}
