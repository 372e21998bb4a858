"""Webhooks: the notification as JSON, POSTed with an HMAC-SHA256 signature of the body and a stable
`Idempotency-Key` (the notification's dedup key), so a resend after an ambiguous outcome is recognised by the receiver.

Headers: `X-Huying-Signature: sha256=<hex HMAC-SHA256 of the raw body under the shared secret>`,
`X-Huying-Timestamp: <Unix seconds>` (also `sent_at` inside the body, so the signature covers it), `Idempotency-Key`.
A 2xx answer is delivery; otherwise the HTTP mapping of `httpsms.outcome` applies."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from notify.channels.base import DeliveryReport, Message, SendResult
from notify.channels.httpsms import signing
from notify.channels.httpsms.outcome import exchange

SIGNATURE_HEADER = "X-Huying-Signature"
TIMESTAMP_HEADER = "X-Huying-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(secret: str, body: bytes) -> str:
    """The X-Huying-Signature value of a body."""
    return "sha256=" + signing.hmac_sha256_hex(secret, body)


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver checks (constant time)."""
    return bool(header) and signing.same(header or "", signature(secret, body))


def header_safe(value: str) -> str:
    """Header values are ASCII: a key with other characters goes percent-encoded (UTF-8), the same every time."""
    return value if value.isascii() else quote(value, safe="")


def payload(message: Message, *, sent_at: datetime) -> dict[str, object]:
    return {
        "notification_id": message.notification_id,
        "idempotency_key": message.idempotency_key,
        "ticket_id": message.ticket_id,
        "template": message.template,
        "locale": message.locale,
        "subject": message.subject,
        "text": message.text,
        "params": dict(message.params),
        "sent_at": sent_at.astimezone(UTC).isoformat(),
    }


class WebhookChannel:
    """POSTs to the message's `to` when it is an http(s) URL, else to the configured `url`."""

    kind = "webhook"

    def __init__(
        self,
        name: str,
        *,
        secret: str,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        client: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self._secret, self._url = secret, url
        self._headers = dict(headers or {})
        self._client = client or httpx.AsyncClient(timeout=timeout or httpx.Timeout(10.0, connect=5.0))
        self._now = now

    def target(self, message: Message) -> str | None:
        if message.to.startswith(("http://", "https://")):
            return message.to
        return self._url

    def request(self, message: Message) -> tuple[dict[str, str], bytes]:
        sent_at = self._now()
        body = json.dumps(payload(message, sent_at=sent_at), ensure_ascii=False, separators=(",", ":")).encode()
        headers = self._headers | {
            "content-type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: signature(self._secret, body),
            TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
            IDEMPOTENCY_HEADER: header_safe(message.idempotency_key),
        }
        return headers, body

    async def send(self, message: Message) -> SendResult:
        url = self.target(message)
        if url is None:
            return SendResult.rejected(f"no webhook URL: {message.to!r} is not one and none is configured")
        headers, body = self.request(message)
        answer = await exchange(lambda: self._client.post(url, content=body, headers=headers), now=self._now)
        if isinstance(answer, SendResult):
            return answer
        return SendResult.sent(answer.headers.get("x-request-id") or message.notification_id)

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        return []  # a 2xx answer is the delivery; there is nothing to ask later

    async def close(self) -> None:
        await self._client.aclose()
