"""Ambiguous sends: a notification that may have gone out is `unknown` and is never resent blindly.

Two ways in: the channel answered `unknown` (a timeout after the submit), or a worker's lease expired while it was
`sending` (the process died mid-send). Two ways out: a delivery report (`reports.settle`, also the callback's path)
or the gateway's answer to a status query (`Channel.query`), asked `query_after_seconds` apart; after
`unknown_checks` unanswered queries it is failed (NotificationFailed "outcome unknown"), for a person to look at."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from huying.outbox import with_outbox
from notify.delivery.channels import ChannelSet
from notify.delivery.events import failed_entry
from notify.delivery.reports import settle
from notify.store import NOTIFICATIONS, State


async def recover_leases(db: AsyncDatabase, *, now: datetime, batch: int) -> int:
    """Notifications whose lease expired mid-send become unknown (checked at once); returns how many."""
    notes = db[NOTIFICATIONS]
    lost = await notes.find({"state": State.SENDING, "lease_until": {"$lte": now}}).limit(batch).to_list()
    moved = 0
    for doc in lost:
        done = await notes.update_one(
            {"_id": doc["_id"], "state": State.SENDING, "lease_until": doc["lease_until"]},
            {
                "$set": {
                    "state": State.UNKNOWN,
                    "check_at": now,
                    "checks": 0,
                    "updated_at": now,
                    "error": "the lease expired during the send: it may have gone out",
                },
                "$unset": {"lease_owner": "", "lease_until": ""},
            },
        )
        moved += done.modified_count
    return moved


async def check_unknown(
    db: AsyncDatabase,
    doc: Mapping[str, Any],
    *,
    channels: ChannelSet,
    topic: str,
    now: datetime,
    query_after: float,
    max_checks: int,
) -> None:
    """One status query of an unknown notification (claimed by moving its `check_at`, so one worker asks)."""
    notes = db[NOTIFICATIONS]
    checks = doc.get("checks", 0) + 1
    claimed = await notes.update_one(
        {"_id": doc["_id"], "state": State.UNKNOWN, "check_at": doc["check_at"]},
        {"$set": {"check_at": now + timedelta(seconds=query_after), "checks": checks}},
    )
    if claimed.modified_count != 1:
        return
    channel = channels.named(doc.get("channel_name") or "")
    ids = tuple(doc.get("gateway_ids") or ())
    reports = await channel.query(ids) if channel is not None and ids else []
    for report in reports:
        if await settle(db, report, topic=topic, now=now, channel_name=channel.name if channel else None):
            return
    if checks >= max_checks:
        error = f"outcome unknown after {checks} checks: not resent ({doc.get('error')})"
        kind = doc.get("delivered_kind") or doc["channel"]
        entry = failed_entry(topic, doc, kind=kind, attempts=doc.get("attempts", 1), error=error, now=now)
        update = with_outbox({"$set": {"state": State.FAILED, "error": error, "updated_at": now}}, [entry])
        await notes.update_one({"_id": doc["_id"], "state": State.UNKNOWN, "checks": checks}, update)
