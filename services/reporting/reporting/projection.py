"""Which read model an event feeds (the service layer between the subscriber and the store)."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from huying.events import Event, NotificationFailed, NotificationSent, QualityBudgetExceeded, QualityBudgetWarning
from reporting import store
from reporting.domain.entries import is_ticket_fact


async def apply(db: AsyncDatabase, event: Event) -> bool:
    """Apply one event to its read model; False when it changed nothing (a duplicate, or an event no model reads)."""
    if isinstance(event, NotificationSent | NotificationFailed):
        return await store.apply_notification(db, event)
    if isinstance(event, QualityBudgetWarning | QualityBudgetExceeded):
        return await store.apply_quality_event(db, event)
    if is_ticket_fact(event):
        return await store.apply_ticket_event(db, event.ticket_id, event)  # type: ignore[attr-defined]
    return False
