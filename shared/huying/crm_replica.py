"""Each service's own replica of CRM master data (customers, service lines), fed by `huying.crm.v1`.

Idempotent twice over: a redelivered event id is never applied again (`apply_once`), and an event older than
what is stored (lower CRM revision, or same revision but earlier) is ignored, so out-of-order delivery cannot
roll a customer back.
"""

from __future__ import annotations

from typing import Any

from faststream import Context
from faststream.kafka import KafkaRouter
from pymongo.asynchronous.database import AsyncDatabase

from huying.events import CrmMessage, CustomerUpserted, Event, ServiceLineUpserted
from huying.idempotency import apply_once
from huying.kafka import subscriber_options
from huying.settings import ServiceSettings
from huying.topics import Topics

ENVELOPE = set(Event.model_fields)


def _newer_than_stored(revision: int, occurred_at: Any) -> dict[str, Any]:
    return {
        "$or": [
            {"revision": {"$exists": False}},
            {"revision": {"$lt": revision}},
            {"revision": revision, "source_time": {"$lt": occurred_at}},
        ]
    }


async def apply_crm_event(db: AsyncDatabase, event: CustomerUpserted | ServiceLineUpserted) -> bool:
    """Upsert the customer or service line; True if the replica changed."""
    if isinstance(event, CustomerUpserted):
        collection, doc_id = db.customers, event.customer_id
    else:
        collection, doc_id = db.service_lines, event.service_line_id
    fields = event.model_dump(mode="json", exclude=ENVELOPE)
    fields["source_time"] = event.occurred_at
    fields["source_event_id"] = str(event.event_id)  # the CRM event the record now reflects
    return await apply_once(
        collection,
        doc_id,
        str(event.event_id),
        {"$set": fields},
        guard=_newer_than_stored(event.revision, event.occurred_at),
    )


def crm_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.crm.name, **subscriber_options(settings), title=f"{settings.service_name}:crm")
    async def on_crm(event: CrmMessage, runtime: Any = Context("runtime")) -> None:
        await apply_crm_event(runtime.db, event)

    return router
