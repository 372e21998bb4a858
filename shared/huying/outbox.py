"""The transactional outbox: events are stored on the aggregate in the same write as the state change that
caused them; the relay publishes them to Kafka and then removes them. A crash between publish and removal
re-publishes the same event ids, which consumers de-duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo.asynchronous.collection import AsyncCollection

from huying.dlq import is_transient
from huying.events import Event
from huying.kafka import event_headers, serialize

log = logging.getLogger("huying.outbox")

PENDING = "outbox_pending"


def outbox_entry(topic: str, event: Event) -> dict[str, Any]:
    """An event as stored in an aggregate's `outbox` array."""
    key = event.partition_key()
    return {
        "event_id": str(event.event_id),
        "topic": topic,
        "key": key,
        "value": serialize(event),
        "headers": event_headers(event),
    }


def with_outbox(update: dict[str, Any], entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Add outbox entries to an update document, so state and events are written together."""
    merged = {op: dict(fields) for op, fields in update.items()}
    merged.setdefault("$push", {})["outbox"] = {"$each": list(entries)}
    merged.setdefault("$set", {})[PENDING] = True
    return merged


def document_with_outbox(document: dict[str, Any], entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A new aggregate document carrying its first events, for an insert."""
    return {**document, "outbox": list(entries), PENDING: True}


async def send_unconfirmed(broker: KafkaBroker, entry: dict[str, Any]) -> Any:
    """Hand one outbox entry to the producer without waiting for the broker's acknowledgement; returns what to await
    for it (raises at once when the producer refuses it, e.g. a record too large)."""
    return await broker.publish(
        entry["value"],
        topic=entry["topic"],
        key=entry["key"],
        headers=entry["headers"],
        correlation_id=entry["event_id"],
        no_confirm=True,
    )


class OutboxRelay:
    """Publishes pending outbox entries of the given collections; woken after each write, polls as a safety net."""

    def __init__(
        self, broker: KafkaBroker, collections: list[AsyncCollection], *, poll_seconds: float = 1.0, batch: int = 100
    ) -> None:
        self.broker = broker
        self.collections = collections
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        for collection in self.collections:
            await collection.create_index(PENDING)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                while await self.relay_once():
                    pass
            except Exception:
                log.exception("outbox relay pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    async def relay_once(self) -> int:
        """Publish one batch per collection; returns how many events were published. (SecantusDB reads every pending
        document before applying the limit: fine while what is pending is what a pass publishes anyway.)"""
        published = 0
        for collection in self.collections:
            docs = await collection.find({PENDING: True}, {"outbox": 1}).limit(self.batch).to_list()
            published += await self._relay_documents(collection, docs)
        return published

    async def _relay_document(self, collection: AsyncCollection, doc: dict[str, Any]) -> int:
        return await self._relay_documents(collection, [doc])

    async def _relay_documents(self, collection: AsyncCollection, docs: list[dict[str, Any]]) -> int:
        """Send every entry of the documents without waiting for each acknowledgement (the idempotent producer keeps
        each partition's order), wait for all, then clear the documents whose entries were all acknowledged."""
        sends: list[tuple[int, Any]] = []
        failed: dict[int, BaseException] = {}
        for n, doc in enumerate(docs):
            for entry in doc.get("outbox") or []:
                try:
                    sent = await send_unconfirmed(self.broker, entry)
                except Exception as error:  # refused before sending (e.g. a record too large)
                    failed[n] = error
                    break  # the document's later entries wait behind it, in order
                sends.append((n, sent))
        results = await asyncio.gather(*(sent for _, sent in sends), return_exceptions=True)
        for (n, _), result in zip(sends, results, strict=True):
            if isinstance(result, BaseException):
                failed.setdefault(n, result)
        if transient := next((e for e in failed.values() if is_transient(e)), None):
            raise transient  # Kafka or the database is away: the whole pass goes again (same event ids)
        published = 0
        for n, doc in enumerate(docs):
            if n in failed:
                # One document's bad entry must not hold up every other aggregate; it stays pending, logged.
                log.error("outbox of %s/%s not published; others go on: %r", collection.name, doc["_id"], failed[n])
                continue
            entries = doc.get("outbox") or []
            await self._clear(collection, doc["_id"], entries)
            published += len(entries)
        return published

    async def _clear(self, collection: AsyncCollection, doc_id: Any, entries: list[dict[str, Any]]) -> None:
        """Remove exactly the published entries: one write when nothing was appended meanwhile (the common case),
        else `$pullAll` of those entries, leaving the new ones pending."""
        cleared = await collection.update_one(
            {"_id": doc_id, "outbox": entries}, {"$set": {"outbox": [], PENDING: False}}
        )
        if cleared.matched_count == 0:
            await collection.update_one({"_id": doc_id}, {"$pullAll": {"outbox": entries}})
