"""NotificationSent / NotificationFailed for `huying.notifications.v1`, as outbox entries written with the state
change they report. Ids are uuid5 of the notification id and the outcome, so a re-run publishes the same id and a
notification reports each outcome at most once (the state guard writes it once; downstream de-duplicates)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from huying.events import NotificationFailed, NotificationSent
from huying.outbox import outbox_entry
from notify.store import NAMESPACE

CHANNEL_KINDS = ("sms", "email", "webhook", "outbox")


def event_id(notification_id: str, outcome: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{notification_id}|{outcome}")


def _common(doc: Mapping[str, Any], *, kind: str, attempts: int, now: datetime) -> dict[str, Any]:
    return {
        "notification_id": doc["_id"],
        "dedup_key": doc["dedup_key"],
        "ticket_id": doc.get("ticket_id"),
        "channel": kind if kind in CHANNEL_KINDS else doc["channel"],
        "recipient_role": doc["audience"],
        "attempts": max(1, attempts),
        "occurred_at": now,
        "producer": "notify",
        "correlation_id": doc.get("ticket_id"),
        "causation_id": doc.get("event_id"),
    }


def sent_entry(topic: str, doc: Mapping[str, Any], *, kind: str, attempts: int, now: datetime) -> dict[str, Any]:
    event = NotificationSent(
        event_id=event_id(doc["_id"], "sent"), **_common(doc, kind=kind, attempts=attempts, now=now)
    )
    return outbox_entry(topic, event)


def failed_entry(
    topic: str, doc: Mapping[str, Any], *, kind: str, attempts: int, error: str, now: datetime
) -> dict[str, Any]:
    event = NotificationFailed(
        event_id=event_id(doc["_id"], "failed"),
        error=error[:500] or "failed",
        **_common(doc, kind=kind, attempts=attempts, now=now),
    )
    return outbox_entry(topic, event)
