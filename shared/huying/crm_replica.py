"""Each service's own replica of CRM master data (customers, service lines), fed by `huying.crm.v1`.

Concurrency rule: a record changes only by an upsert whose filter says "the stored record is older" (`crm_order`: a
lower CRM revision, or the same revision from an earlier CRM time) — one atomic single-document update, so replicas
and batches racing on one record leave the newest whatever their order. The same guard makes a redelivered or
duplicated event a no-op (it is not newer than itself), so no list of applied event ids is kept.

Consumed in batches (`crm_batch` records, default 500): one unordered bulk write applies a batch, the records
that cannot be parsed are dead-lettered on their own, and a service's `after` hook then sees the batch's events.
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
from pymongo.errors import BulkWriteError

from huying.dlq import dead_letter_record
from huying.events import CrmMessage, CustomerUpserted, Event, ServiceLineUpserted
from huying.kafka import subscriber_options
from huying.settings import ServiceSettings
from huying.topics import Topics

ENVELOPE = set(Event.model_fields)
DUPLICATE_KEY = 11000
CRM_EVENT: TypeAdapter[Any] = TypeAdapter(CrmMessage)

CrmEvent = CustomerUpserted | ServiceLineUpserted
MaybeCrm = Annotated[CrmMessage | Any, Field(union_mode="left_to_right")]
AfterHook = Callable[[Any, list[CrmEvent]], Awaitable[None]]


def crm_order(revision: int, occurred_at: datetime) -> str:
    """The record's place in CRM order as one sortable string: revision, then CRM time (fixed width, UTC). One
    comparison instead of an `$or`, which SecantusDB would answer by scanning the collection."""
    return f"{revision:012d}|{occurred_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


def _operation(event: CrmEvent) -> tuple[str, UpdateOne]:
    if isinstance(event, CustomerUpserted):
        collection, doc_id = "customers", event.customer_id
    else:
        collection, doc_id = "service_lines", event.service_line_id
    fields = event.model_dump(mode="json", exclude=ENVELOPE)
    fields["source_time"] = event.occurred_at
    fields["source_event_id"] = str(event.event_id)  # the CRM event the record now reflects
    fields["crm_order"] = order = crm_order(event.revision, event.occurred_at)
    # An older or equal record matches nothing, so the upsert tries to insert the existing _id: E11000 = skipped.
    return collection, UpdateOne({"_id": doc_id, "crm_order": {"$lt": order}}, {"$set": fields}, upsert=True)


async def apply_crm_events(db: AsyncDatabase, events: Sequence[CrmEvent]) -> list[CrmEvent]:
    """Upsert the customers and service lines (one bulk write per collection); the events that changed the replica
    (the others were older than, or the same as, what is stored)."""
    by_collection: dict[str, list[tuple[CrmEvent, UpdateOne]]] = {}
    for event in events:
        collection, operation = _operation(event)
        by_collection.setdefault(collection, []).append((event, operation))
    changed: list[CrmEvent] = []
    for collection, pairs in by_collection.items():
        skipped: set[int] = set()
        try:
            await db[collection].bulk_write([op for _, op in pairs], ordered=False)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors) or error.details.get("writeConcernErrors"):
                raise
            skipped = {e["index"] for e in errors}
        changed += [event for n, (event, _) in enumerate(pairs) if n not in skipped]
    return changed


async def apply_crm_event(db: AsyncDatabase, event: CrmEvent) -> bool:
    """Upsert one customer or service line; True if the replica changed."""
    return bool(await apply_crm_events(db, [event]))


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
    options = subscriber_options(
        settings, batch=True, max_records=getattr(settings, "crm_batch", 500), group_id=group_id or settings.group_id
    )

    @router.subscriber(topics.crm.name, **options, title=title or f"{settings.service_name}:crm")
    async def on_crm(
        parsed: list[MaybeCrm],
        message: KafkaMessage,
        broker: Any = Context("broker"),
        runtime: Any = Context("runtime"),
    ) -> None:
        # `parsed` (typed so that the AsyncAPI document shows the CRM messages) holds what FastStream decoded of each
        # record, a CRM event or the raw body it could not read: the records are validated one by one here, so a
        # bad one is dead-lettered alone.
        records = message.raw_message if isinstance(message.raw_message, tuple | list) else (message.raw_message,)
        events: list[CrmEvent] = []
        for record in records:
            try:
                events.append(CRM_EVENT.validate_json(record.value))
            except ValidationError as error:
                await dead_letter_record(broker, record, error, options["group_id"])
        if events:
            await apply_crm_events(runtime.db, events)
            if after is not None:
                await after(runtime, events)

    return router
