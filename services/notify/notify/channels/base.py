"""The one interface every delivery channel implements, and what a send can come back as.

A channel only delivers: deciding whether, when and to whom is the pipeline's (notify.delivery), which records
every notification before it calls a channel and acts on the `SendResult`:

- `SENT`: the gateway took it (for SMS, accepted for delivery; a delivery report may follow and settle it);
- `RETRY`: nothing was handed over, or the gateway said "later" (connection refused, 5xx, flow control, 429):
  safe to send again after a backoff;
- `REJECTED`: the gateway refused it for good (4xx, invalid number, bad signature): never resent, failed at once;
- `UNKNOWN`: handed over but unanswered (a timeout after the submit): it may have gone out, so it is never blindly
  resent; a delivery report or a status query settles it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered notification, addressed: what a channel needs and nothing more.

    `idempotency_key` is the notification's dedup key: webhooks carry it, gateways that accept a client message id get
    a value derived from it, so a resend after an ambiguous outcome can be recognised at the far end."""

    notification_id: str
    idempotency_key: str
    to: str  # phone number, email address or webhook URL, as the channel kind needs
    text: str  # the rendered body (SMS: the whole text, the channel splits it into segments)
    subject: str | None = None  # email subject; the first line of the text by default
    ticket_id: str | None = None
    template: str | None = None  # template id, for platforms that send by template code + parameters
    params: Mapping[str, str] = field(default_factory=dict)  # the template's parameters, rendered as text
    locale: str = "zh-CN"


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    gateway_ids: tuple[str, ...] = ()  # the gateway's message ids (one per SMS segment for CMPP)
    error: str | None = None
    retry_after: float | None = None  # seconds, when the gateway said how long to wait

    @classmethod
    def sent(cls, *ids: str) -> SendResult:
        return cls(Outcome.SENT, tuple(ids))

    @classmethod
    def retry(cls, error: str, *, retry_after: float | None = None) -> SendResult:
        return cls(Outcome.RETRY, error=error, retry_after=retry_after)

    @classmethod
    def rejected(cls, error: str) -> SendResult:
        return cls(Outcome.REJECTED, error=error)

    @classmethod
    def unknown(cls, error: str, *ids: str) -> SendResult:
        return cls(Outcome.UNKNOWN, tuple(ids), error=error)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a gateway said later about a message it took (a callback, a CMPP status report, a status query)."""

    gateway_id: str
    delivered: bool
    status: str  # the gateway's own word: DELIVRD, UNDELIV, EXPIRED, …
    at: datetime | None = None


@runtime_checkable
class Channel(Protocol):
    """A configured delivery channel. `name` is unique per deployment (e.g. "sms-cmpp", "sms-http-backup"); `kind`
    is what it delivers (sms, email, webhook, outbox) — the notification's channel in `huying.notifications.v1`."""

    name: str
    kind: str

    async def send(self, message: Message) -> SendResult:
        """Deliver once. Never raises for a delivery failure: it becomes a SendResult."""
        ...

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        """The gateway's status of messages it took (for UNKNOWN and unconfirmed sends); [] when it cannot say."""
        ...

    async def close(self) -> None: ...
