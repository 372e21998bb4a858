"""Each service's own replica of CRM master data (customers, service lines), fed by `huying.crm.v1`.

Concurrency rule: a record changes only by an upsert whose filter says "the stored record is older" (`crm_order`: a
lower CRM revision, or the same revision from an earlier CRM time) — one atomic single-document update, so replicas
and batches racing on one record leave the newest whatever their order. The same guard makes a redelivered or
duplicated event a no-op (it is not newer than itself), so no list of applied event ids is kept.

Consumed in batches (`crm_batch` records, default 1,000): a batch is applied in a few bulk round trips, the records
that cannot be parsed are dead-lettered on their own, and a service's `after` hook then sees the batch's events.

A read model that rebuilds from the log (`huying.rebuild`): the consumer group is `<group>.crm.<epoch>`, the epoch
held by the service's database, so a database wiped or restored replays the compacted topic from the beginning. A
service adopts it by calling `huying.rebuild.start_read_models` in its setup (until then the group is `<group>.crm`)
and `read_models_ready` for `/readyz`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from faststream import Context
from faststream.kafka import KafkaMessage, KafkaRouter
from pydantic import Field, TypeAdapter, ValidationError
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from huying.dlq import dead_letter_record, is_transient
from huying.events import CrmMessage, CustomerUpserted, Event, ServiceLineUpserted
from huying.idempotency import APPLIED, insert_many_once
from huying.kafka import subscriber_options
from huying.rebuild import ReadModel, Replica, bind
from huying.settings import ServiceSettings
from huying.topics import Topics

ENVELOPE = set(Event.model_fields)
CRM_EVENT: TypeAdapter[Any] = TypeAdapter(CrmMessage)

CrmEvent = CustomerUpserted | ServiceLineUpserted
MaybeCrm = Annotated[CrmMessage | Any, Field(union_mode="left_to_right")]
AfterHook = Callable[[Any, list[CrmEvent]], Awaitable[None]]
COLLECTIONS = ("customers", "service_lines")


def crm_model(settings: ServiceSettings, topics: Topics, *, group_id: str | None = None) -> ReadModel:
    """The CRM replica as a read model of the CRM topic (group `<group>.crm` plus the database's epoch)."""
    return ReadModel("crm", (topics.crm.name,), COLLECTIONS, group_id or f"{settings.group_id}.crm")


def crm_order(revision: int, occurred_at: datetime) -> str:
    """The record's place in CRM order as one sortable string: revision, then CRM time (fixed width, UTC). One
    comparison instead of an `$or`, which SecantusDB would answer by scanning the collection."""
    return f"{revision:012d}|{occurred_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


def _target(event: CrmEvent) -> tuple[str, str, dict[str, Any]]:
    """(collection, record id, fields) of the replica record an event writes."""
    if isinstance(event, CustomerUpserted):
        collection, doc_id = "customers", event.customer_id
    else:
        collection, doc_id = "service_lines", event.service_line_id
    fields = event.model_dump(mode="json", exclude=ENVELOPE)
    fields["source_time"] = event.occurred_at
    fields["source_event_id"] = str(event.event_id)  # the CRM event the record now reflects
    fields["crm_order"] = crm_order(event.revision, event.occurred_at)
    return collection, doc_id, fields


async def apply_crm_events(db: AsyncDatabase, events: Sequence[CrmEvent]) -> int:
    """Bring the customers and service lines up to the newest of these events; returns how many records this call
    wrote (0 when every event was older than, or the same as, what is stored).

    Per collection, three round trips at most: which records exist (by `_id`), an unordered `insert_many` of the
    new ones (a first load runs at bulk-insert speed; a record another writer inserted meanwhile raises E11000 and
    is retried as an update), and an unordered bulk of guarded updates `{_id, crm_order: {$lt: new}}` for the rest.
    """
    newest: dict[str, dict[str, dict[str, Any]]] = {}
    for event in events:
        collection, doc_id, fields = _target(event)
        held = newest.setdefault(collection, {}).get(doc_id)
        if held is None or held["crm_order"] < fields["crm_order"]:
            newest[collection][doc_id] = fields
    written = 0
    for collection, records in newest.items():
        stored: dict[str, str] = {}
        legacy: set[str] = set()  # written before `crm_order` existed: their order is computed from what they hold
        found = db[collection].find({"_id": {"$in": list(records)}}, {"crm_order": 1, "revision": 1, "source_time": 1})
        async for doc in found:
            if "crm_order" in doc:
                stored[doc["_id"]] = doc["crm_order"]
            else:
                legacy.add(doc["_id"])
                held_at = doc.get("source_time")
                stored[doc["_id"]] = crm_order(doc.get("revision", 0), held_at) if held_at else ""
        fresh = [{"_id": doc_id, **fields} for doc_id, fields in records.items() if doc_id not in stored]
        inserted = await insert_many_once(db[collection], fresh)
        updates = [
            _update(doc_id, fields, legacy=doc_id in legacy)
            for doc_id, fields in records.items()
            if doc_id not in inserted and stored.get(doc_id, "") < fields["crm_order"]
        ]
        written += len(inserted)
        if updates:
            written += (await db[collection].bulk_write(updates, ordered=False)).modified_count
    return written


def _update(doc_id: str, fields: dict[str, Any], *, legacy: bool) -> UpdateOne:
    if legacy:  # moved onto `crm_order` by its first newer event; the applied-ids list of the old replica goes
        return UpdateOne({"_id": doc_id, "crm_order": {"$exists": False}}, {"$set": fields, "$unset": {APPLIED: ""}})
    return UpdateOne({"_id": doc_id, "crm_order": {"$lt": fields["crm_order"]}}, {"$set": fields})


async def apply_crm_event(db: AsyncDatabase, event: CrmEvent) -> bool:
    """Upsert one customer or service line; True if the replica changed."""
    return await apply_crm_events(db, [event]) == 1


def crm_router(
    settings: ServiceSettings,
    topics: Topics,
    *,
    after: AfterHook | None = None,
    group_id: str | None = None,
    title: str | None = None,
) -> KafkaRouter:
    """The replica's batch consumer. `after(runtime, events)` runs once the batch is applied, with every event of
    the batch (applied now or before: a hook must be idempotent, and it also finishes work a crash interrupted)."""
    router = KafkaRouter()
    replica = Replica(crm_model(settings, topics, group_id=group_id))
    options = subscriber_options(settings, batch=True, max_records=settings.crm_batch, group_id=replica.group)
    subscriber = router.subscriber(topics.crm.name, **options, title=title or f"{settings.service_name}:crm")
    bind(subscriber, replica)

    @subscriber
    async def on_crm(
        parsed: list[MaybeCrm],
        message: KafkaMessage,
        broker: Any = Context("broker"),
        runtime: Any = Context("runtime"),
    ) -> None:
        # `parsed` (typed so that the AsyncAPI document shows the CRM messages) holds, in record order, what FastStream
        # decoded of each record: a CRM event, or whatever it could not read as one. Those records are validated
        # again on their own for the reason, and dead-lettered alone.
        records = message.raw_message if isinstance(message.raw_message, tuple | list) else (message.raw_message,)
        decoded = parsed if len(parsed) == len(records) else [None] * len(records)
        pairs: list[tuple[Any, CrmEvent]] = []  # (record, its event)
        for record, item in zip(records, decoded, strict=True):
            if isinstance(item, CustomerUpserted | ServiceLineUpserted):
                pairs.append((record, item))
                continue
            try:
                pairs.append((record, CRM_EVENT.validate_json(record.value)))
            except ValidationError as error:
                await dead_letter_record(broker, record, error, replica.group)
        await _apply(pairs, broker, runtime)
        await replica.applied(runtime.db, records)  # before the offsets are committed: committed ≤ recorded

    async def _apply(pairs: list[tuple[Any, CrmEvent]], broker: Any, runtime: Any) -> None:
        events = [event for _, event in pairs]
        if not events:
            return
        try:
            await apply_crm_events(runtime.db, events)
            if after is not None:
                await after(runtime, events)
        except Exception as error:
            if is_transient(error):
                raise  # the database or broker is away: the batch is redelivered once it is back
            # Something in the batch fails for good: one record at a time, so only the failing one is dead-lettered
            # and the others (and the partition) go on.
            for record, event in pairs:
                try:
                    await apply_crm_events(runtime.db, [event])
                    if after is not None:
                        await after(runtime, [event])
                except Exception as one_error:
                    if is_transient(one_error):
                        raise
                    await dead_letter_record(broker, record, one_error, replica.group)

    return router
