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
        """Publish one batch per collection; returns how many events were published."""
        published = 0
        for collection in self.collections:
            async for doc in collection.find({PENDING: True}, {"outbox": 1}).limit(self.batch):
                try:
                    published += await self._relay_document(collection, doc)
                except Exception as error:
                    if is_transient(error):
                        raise  # Kafka or the database is away: the whole pass waits for the next wake or poll
                    # One document's bad entry (e.g. a record too large) must not hold up every other aggregate.
                    log.exception("outbox of %s/%s not published; others go on", collection.name, doc["_id"])
        return published

    async def _relay_document(self, collection: AsyncCollection, doc: dict[str, Any]) -> int:
        entries = doc.get("outbox") or []
        for entry in entries:
            await self.broker.publish(
                entry["value"],
                topic=entry["topic"],
                key=entry["key"],
                headers=entry["headers"],
                correlation_id=entry["event_id"],
            )
        # $pullAll removes exactly the entries published (FerretDB v1 silently ignores $pull with a condition).
        await collection.update_one({"_id": doc["_id"]}, {"$pullAll": {"outbox": entries}})
        await collection.update_one({"_id": doc["_id"], "outbox": {"$size": 0}}, {"$set": {PENDING: False}})
        return len(entries)
