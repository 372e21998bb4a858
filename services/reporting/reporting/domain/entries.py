"""What reporting keeps of each event: a compact, JSON-ready *entry* (id, type, time and the fields the facts read).

Personal data stays out (STYLE: masked where the role does not need it): the reporting contact, descriptions and
progress notes, the names of who consented, asked or was reached, and the customer's words are never copied.
"""

from __future__ import annotations

from typing import Any

from huying.events import Event

ENVELOPE = set(Event.model_fields)
PERSONAL = {
    "contact", "description", "note", "consent_by", "requested_by", "reached", "comment", "name", "phone", "leader",
}  # fmt: skip

# Events that change no fact: warnings and reminders are what notify acts on, not outcomes.
IGNORED = {"SlaWarning", "ProgressUpdateDue", "DutyNotificationRequested", "QualityChecked"}
QUALITY = {"QualityBudgetWarning", "QualityBudgetExceeded"}
NOTIFICATIONS = {"NotificationSent", "NotificationFailed"}


def entry_of(event: Event) -> dict[str, Any]:
    """The entry of a ticket-scoped event: `id`, `type`, `at` (occurred_at, ISO UTC) and its payload, minus
    personal data."""
    fields = event.model_dump(mode="json", exclude=ENVELOPE | PERSONAL)
    return {"id": str(event.event_id), "type": event.type, "at": event.occurred_at.isoformat(), **fields}


def is_ticket_fact(event: Event) -> bool:
    """Events folded into a ticket's facts (ticket-scoped, and not merely a warning)."""
    return hasattr(event, "ticket_id") and event.type not in IGNORED | QUALITY | NOTIFICATIONS
