"""`huying.notifications.v1`: what notify delivered or gave up on."""

from __future__ import annotations

from typing import Literal

from huying.events.base import Event, F


class _Notification(Event):
    notification_id: str = F("Notification id.", "N-7d2f")
    dedup_key: str = F(
        "One notification per key, however often its cause is redelivered.", "T-20260302-000123:restore:breached"
    )
    ticket_id: str | None = F("Ticket it is about, if any.", "T-20260302-000123", default=None)
    channel: Literal["sms", "email", "webhook", "outbox"] = F("Delivery channel.", "sms")
    recipient_role: str = F("Role of the recipient.", "account_manager")
    attempts: int = F("Delivery attempts so far.", 1, ge=1)

    def partition_key(self) -> bytes:
        return (self.ticket_id or self.dedup_key).encode()


class NotificationSent(_Notification):
    type: Literal["NotificationSent"] = "NotificationSent"


class NotificationFailed(_Notification):
    type: Literal["NotificationFailed"] = "NotificationFailed"
    error: str = F("Last error.", "SMTP 451 temporary failure")
