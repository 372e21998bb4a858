"""Idempotent consumers: the processed event id is recorded in the same single-document write as the state
change, and the unique `_id` index turns a second attempt into a no-op."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

APPLIED = "applied_events"


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


def _with_applied(update: dict[str, Any], event_id: str) -> dict[str, Any]:
    merged = {op: dict(fields) for op, fields in update.items()}
    merged.setdefault("$push", {})[APPLIED] = event_id
    return merged


async def apply_once(
    collection: AsyncCollection,
    doc_id: Any,
    event_id: str,
    update: dict[str, Any],
    *,
    guard: dict[str, Any] | None = None,
    upsert: bool = True,
) -> bool:
    """Apply `update` to one document unless `event_id` was already applied to it.

    A duplicate is detected by the filter `applied_events != event_id`: on an existing document that already
    holds the id nothing matches, and the upsert then collides with the existing `_id` (DuplicateKeyError).
    `guard` adds conditions (e.g. only a newer revision); when it fails on an existing document the update is
    skipped the same way. Returns True when the update was applied.
    """
    query = {"_id": doc_id, APPLIED: {"$ne": event_id}, **(guard or {})}
    try:
        result = await collection.update_one(query, _with_applied(update, event_id), upsert=upsert)
    except DuplicateKeyError:
        # Either this event was applied (or the guard refused it) on an existing document, or another event
        # created the document concurrently: a plain update tells the two apart.
        result = await collection.update_one(query, _with_applied(update, event_id), upsert=False)
        return result.modified_count == 1
    return result.modified_count == 1 or result.upserted_id is not None
