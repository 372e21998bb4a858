"""notify's database: the CRM replica (`huying.crm_replica`), the ticket snapshots (`notify.snapshots`) and the
`notifications` — one document per dedup key, with its state, attempts and its outbox of NotificationSent /
NotificationFailed events (published by the shared relay).

Concurrency rule: a notification changes only by an update guarded on the state it was read in (and, while it is
being sent, on the worker's lease), so two workers never both send it and an outcome is written once."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from huying.rebuild import start_read_models
from huying.service import Runtime
from notify.domain.rules import Intent
from notify.snapshots import TICKETS

NOTIFICATIONS = "notifications"
NAMESPACE = uuid.UUID("5a0f3c52-2a57-4d39-9b55-3f1f2d6b7c01")  # notify's ids: uuid5 of the dedup key


class State:
    """A notification's states (docs/notify.md): pending → sending → sent → delivered, or back to pending (retry),
    failed (rejected, template error, undelivered), dead (no attempt left), unknown (ambiguous send, settled by a
    report or a query), suppressed (the storm gate said so), digest (held past a cap: an entry of the digest
    notification of its recipient and channel, `digest_id`; final — the digest is what goes)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNKNOWN = "unknown"
    FAILED = "failed"
    DEAD = "dead"
    SUPPRESSED = "suppressed"
    DIGEST = "digest"


STATES = (
    State.PENDING, State.SENDING, State.SENT, State.DELIVERED, State.UNKNOWN, State.FAILED, State.DEAD,
    State.SUPPRESSED, State.DIGEST,
)  # fmt: skip
SUPPRESSIONS = "suppressions"  # bounced or invalid addresses: {_id: address, reason, at, notification_id}
DIGEST_RULE = "digest"  # rule_id and template of a digest notification (kind "digest")


def notification_id(dedup_key: str) -> str:
    return f"N-{uuid.uuid5(NAMESPACE, dedup_key)}"


def plain(value: Any) -> Any:
    """Template variables as the database stores them (datetimes stay datetimes, models become mappings)."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="python"))
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def notification_doc(
    intent: Intent, *, event_type: str, variables: Mapping[str, Any], teams: list[str], now: datetime
) -> dict[str, Any]:
    """The document an intent is recorded as: everything the worker needs to render and send it, fixed now."""
    person = intent.recipient
    return {
        "_id": notification_id(intent.dedup_key),
        "dedup_key": intent.dedup_key,
        "rule_id": intent.rule_id,
        "event_id": intent.event_id,
        "event_type": event_type,
        "ticket_id": intent.ticket_id,
        "teams": teams,
        "audience": str(intent.audience),
        "recipient": {
            "ref": person.ref,
            "name": person.name,
            "phone": person.phone,
            "email": person.email,
            "webhook": person.webhook,
        },
        "channel": str(intent.channel),
        "template": intent.template,
        "locale": intent.locale,
        "urgent": intent.urgent,
        "gap": intent.gap,
        "variables": plain(dict(variables)),
        "state": State.PENDING,
        "due_at": intent.not_before,
        "not_before": intent.not_before,  # the intent's own time (due_at moves on defers and retries)
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "gateway_ids": [],
        "history": [],
        "outbox": [],
        "outbox_pending": False,
    }


def digest_doc(entry: Mapping[str, Any], *, at: datetime, now: datetime) -> dict[str, Any]:
    """The digest notification of `entry`'s recipient and channel at `at`: one per (recipient, channel, time) by its
    dedup key, sent at `at` by the worker with the text of every entry then held for it (`storm.digest`)."""
    ref, channel = entry["recipient"]["ref"], entry["channel"]
    key = f"{DIGEST_RULE}|{ref}|{channel}|{at.isoformat()}"
    return {
        "_id": notification_id(key),
        "kind": DIGEST_RULE,
        "dedup_key": key,
        "rule_id": DIGEST_RULE,
        "event_id": None,
        "event_type": None,
        "ticket_id": None,
        "teams": [],
        "audience": entry["audience"],
        "recipient": dict(entry["recipient"]),
        "channel": channel,
        "template": DIGEST_RULE,
        "locale": entry.get("locale") or "zh-CN",
        "urgent": False,
        "gap": None,
        "variables": {},
        "state": State.PENDING,
        "due_at": at,
        "not_before": at,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "gateway_ids": [],
        "history": [],
        "outbox": [],
        "outbox_pending": False,
    }


async def setup(runtime: Runtime) -> None:
    db: AsyncDatabase = runtime.db
    await db.service_lines.create_index("customer_id")
    await create_indexes(db)
    await start_read_models(runtime)  # the CRM replica: replayed from the beginning if the database is stale


async def create_indexes(db: AsyncDatabase) -> None:
    notes = db[NOTIFICATIONS]
    await notes.create_index("dedup_key", unique=True)  # one notification per dedup key (E11000 for a second)
    await notes.create_index([("state", ASCENDING), ("due_at", ASCENDING)])  # the workers' due pending ones
    await notes.create_index([("state", ASCENDING), ("lease_until", ASCENDING)])  # leases lost mid-send
    await notes.create_index([("state", ASCENDING), ("check_at", ASCENDING)])  # unknown ones to query
    await notes.create_index("gateway_ids")  # delivery reports settle by the gateway's id
    await notes.create_index([("ticket_id", ASCENDING), ("created_at", DESCENDING)])  # the outbox view per ticket
    await notes.create_index([("created_at", DESCENDING)])  # the outbox view, newest first
    # the storm gate's history (notify.delivery.storm_gate): sends per recipient and channel since a time, the last
    # send under an incident key, and the entries held for a digest
    await notes.create_index([("recipient.ref", ASCENDING), ("channel", ASCENDING), ("sent_at", ASCENDING)])
    await notes.create_index([("incident_key", ASCENDING), ("sent_at", DESCENDING)])
    await notes.create_index([("digest_id", ASCENDING), ("state", ASCENDING)])
    await db[TICKETS].create_index("customer_id")
