"""The transactional outbox: events are stored on the aggregate in the same write as the state change that
caused them; the relay publishes them to Kafka and then removes them. A crash between publish and removal
re-publishes the same event ids, which consumers de-duplicate.

No relay ever deletes an unpublished event: one Kafka refuses for good (a record too large, a topic it may not
write) is moved to the service's `outbox_quarantine` collection with the reason and counted
(`huying_outbox_quarantined_total{service,collection}`), and nothing behind it waits; `republish_quarantined`
(`python -m huying.replay outbox`) sends it again and removes it once Kafka has acknowledged it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from huying.dlq import is_transient
from huying.events import Event
from huying.failures import FailureMetrics, failure_metrics
from huying.idempotency import insert_many_once
from huying.kafka import event_headers, serialize

log = logging.getLogger("huying.outbox")

PENDING = "outbox_pending"
QUARANTINE = "outbox_quarantine"  # per service database: {_id: event_id, entry, error, source, quarantined_at}


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


async def quarantine(
    db: AsyncDatabase,
    refused: Sequence[tuple[dict[str, Any], BaseException | str]],
    *,
    source: str,
    now: datetime | None = None,
    metrics: FailureMetrics | None = None,
) -> int:
    """Keep outbox entries Kafka refused for good in `outbox_quarantine`, keyed by event id, with the reason and the
    outbox collection they came from (`source`), and count them; the caller may then remove them from its outbox.
    Idempotent: an entry quarantined before (a crash before its removal) is not counted again. Returns how many
    entries this call quarantined."""
    at = now or datetime.now(UTC)
    docs = {
        entry["event_id"]: {
            "_id": entry["event_id"],
            "entry": entry,
            "error": error if isinstance(error, str) else repr(error),
            "source": source,
            "quarantined_at": at,
        }
        for entry, error in refused
    }
    inserted = await insert_many_once(db[QUARANTINE], list(docs.values()))
    for event_id in inserted:
        log.error("outbox event %s (%s) refused by Kafka for good, quarantined: %s", event_id, source,
                  docs[event_id]["error"])  # fmt: skip
    if metrics is not None and inserted:
        metrics.quarantine(source, len(inserted))
    return len(inserted)


@dataclass(frozen=True)
class Republished:
    """What `republish_quarantined` did with one quarantined event: `sent`, `would send` (dry run) or `failed`."""

    event_id: str
    topic: str
    outcome: str
    error: str = ""


async def republish_quarantined(
    broker: KafkaBroker, db: AsyncDatabase, *, event_ids: Sequence[str] = (), dry_run: bool = False
) -> list[Republished]:
    """Publish quarantined events again (all, or those named), oldest first, each removed from quarantine only once
    Kafka has acknowledged it; one that fails again stays, with its new reason."""
    query: dict[str, Any] = {"_id": {"$in": list(event_ids)}} if event_ids else {}
    docs = await db[QUARANTINE].find(query).to_list()
    docs.sort(key=lambda doc: (doc.get("quarantined_at") or datetime.min.replace(tzinfo=UTC), doc["_id"]))
    done: list[Republished] = []
    for doc in docs:
        entry = doc["entry"]
        if dry_run:
            done.append(Republished(doc["_id"], entry["topic"], "would send"))
            continue
        try:
            await broker.publish(
                entry["value"], topic=entry["topic"], key=entry["key"], headers=entry["headers"],
                correlation_id=entry["event_id"],
            )  # fmt: skip
        except Exception as error:
            await db[QUARANTINE].update_one({"_id": doc["_id"]}, {"$set": {"error": repr(error)}})
            done.append(Republished(doc["_id"], entry["topic"], "failed", repr(error)))
            continue
        await db[QUARANTINE].delete_one({"_id": doc["_id"]})
        done.append(Republished(doc["_id"], entry["topic"], "sent"))
    return done


class OutboxRelay:
    """Publishes pending outbox entries of the given collections; woken after each write, polls as a safety net.
    An entry Kafka refuses for good is quarantined (see `quarantine`); the aggregate's other entries go on."""

    def __init__(
        self,
        broker: KafkaBroker,
        collections: list[AsyncCollection],
        *,
        poll_seconds: float = 1.0,
        batch: int = 100,
        metrics: FailureMetrics | None = None,
    ) -> None:
        self.broker = broker
        self.collections = collections
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.metrics = metrics or failure_metrics(broker)
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
        each partition's order), wait for all, quarantine what Kafka refused for good, then clear the documents."""
        sends: list[tuple[int, dict[str, Any], Any]] = []
        refused: dict[int, list[tuple[dict[str, Any], BaseException]]] = {}
        for n, doc in enumerate(docs):
            for entry in doc.get("outbox") or []:
                try:
                    sent = await send_unconfirmed(self.broker, entry)
                except Exception as error:  # refused before sending (e.g. a record too large)
                    if is_transient(error):
                        raise
                    refused.setdefault(n, []).append((entry, error))
                    continue  # set aside: the aggregate's later entries are not held up behind it
                sends.append((n, entry, sent))
        results = await asyncio.gather(*(sent for _, _, sent in sends), return_exceptions=True)
        for (n, entry, _), result in zip(sends, results, strict=True):
            if isinstance(result, BaseException):
                refused.setdefault(n, []).append((entry, result))
        if transient := next((e for failed in refused.values() for _, e in failed if is_transient(e)), None):
            raise transient  # Kafka or the database is away: the whole pass goes again (same event ids)
        published = 0
        for n, doc in enumerate(docs):
            if n in refused:
                await quarantine(collection.database, refused[n], source=collection.name, metrics=self.metrics)
            entries = doc.get("outbox") or []
            await self._clear(collection, doc["_id"], entries)
            published += len(entries) - len(refused.get(n, ()))
        return published

    async def _clear(self, collection: AsyncCollection, doc_id: Any, entries: list[dict[str, Any]]) -> None:
        """Remove exactly the published entries: one write when nothing was appended meanwhile (the common case),
        else `$pullAll` of those entries, leaving the new ones pending."""
        cleared = await collection.update_one(
            {"_id": doc_id, "outbox": entries}, {"$set": {"outbox": [], PENDING: False}}
        )
        if cleared.matched_count == 0:
            await collection.update_one({"_id": doc_id}, {"$pullAll": {"outbox": entries}})
