"""Settling a notification from what its gateway said later (a delivery-report callback, a CMPP status report, a
status query): by the gateway's message id, once. `sent` becomes `delivered` (or `failed` when undelivered);
`unknown` becomes `delivered` with its NotificationSent — the only way an ambiguous send is ever settled as sent,
since it is never resent blindly."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from huying.outbox import with_outbox
from notify.channels.base import DeliveryReport
from notify.delivery.events import failed_entry, sent_entry
from notify.store import NOTIFICATIONS, State


async def settle(
    db: AsyncDatabase, report: DeliveryReport, *, topic: str, now: datetime, channel_name: str | None = None
) -> str | None:
    """Apply one report; returns the notification id it settled, or None (unknown id, or settled before: a report
    delivered twice changes nothing). With `channel_name`, only that channel's notifications are matched."""
    query: dict = {"gateway_ids": report.gateway_id, "state": {"$in": [State.SENT, State.UNKNOWN]}}
    if channel_name is not None:
        query["channel_name"] = channel_name
    doc = await db[NOTIFICATIONS].find_one(query)
    if doc is None:
        return None
    kind, attempts = doc.get("delivered_kind") or doc["channel"], doc.get("attempts", 1)
    report_note = {"gateway_id": report.gateway_id, "status": report.status, "at": report.at or now}
    if report.delivered:
        update: dict = {"$set": {"state": State.DELIVERED, "delivered_at": report.at or now, "report": report_note}}
        entries = (
            [sent_entry(topic, doc, kind=kind, attempts=attempts, now=now)] if doc["state"] == State.UNKNOWN else []
        )
    else:
        error = f"undelivered: {report.status}"
        update = {"$set": {"state": State.FAILED, "error": error, "report": report_note}}
        entries = [failed_entry(topic, doc, kind=kind, attempts=attempts, error=error, now=now)]
    update["$set"]["updated_at"] = now
    if entries:
        update = with_outbox(update, entries)
    done = await db[NOTIFICATIONS].update_one({"_id": doc["_id"], "state": doc["state"]}, update)
    return doc["_id"] if done.modified_count == 1 else None
