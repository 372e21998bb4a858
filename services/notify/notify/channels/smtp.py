"""Email over SMTP with aiosmtplib: one connection per message (STARTTLS and login as configured), a UTF-8 subject
and body that read in Chinese, and a Message-ID derived from the idempotency key, so a resend is recognisable.

Outcomes by reply code and stage: a 4xx reply → retry, a 5xx reply → rejected; a timeout or a dropped connection
before DATA → retry (nothing was handed over), during or after DATA → unknown (the server may have queued it)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr
from enum import StrEnum
from zoneinfo import ZoneInfo

import aiosmtplib

from notify.channels.base import DeliveryReport, Message, SendResult

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Stage(StrEnum):
    CONNECT = "connect"  # TCP, greeting, EHLO, STARTTLS, AUTH
    ENVELOPE = "envelope"  # MAIL FROM, RCPT TO
    DATA = "data"  # DATA, the content, the final reply


def message_id(idempotency_key: str, *, domain: str) -> str:
    """The same Message-ID for every send of one notification."""
    return f"<{hashlib.sha256(idempotency_key.encode('utf-8')).hexdigest()[:40]}@{domain}>"


def outcome(error: Exception, *, stage: Stage) -> SendResult:
    """The verdict on an SMTP failure at a stage."""
    text = f"{stage}: {type(error).__name__}: {error}"
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    if isinstance(error, aiosmtplib.SMTPResponseException) and 400 <= error.code < 600:
        return SendResult.retry(text) if error.code < 500 else SendResult.rejected(text)
    if isinstance(error, aiosmtplib.SMTPNotSupported):
        return SendResult.rejected(text)  # e.g. STARTTLS required and not offered: a resend meets the same server
    return SendResult.unknown(text) if stage is Stage.DATA else SendResult.retry(text)


class SmtpChannel:
    kind = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int = 25,
        sender: str,
        sender_name: str = "",
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = False,
        validate_certs: bool = True,
        timeout: float = 30.0,
        message_id_domain: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self._smtp = dict(
            hostname=host,
            port=port,
            username=username,
            password=password,
            use_tls=use_tls,
            start_tls=start_tls,
            validate_certs=validate_certs,
            timeout=timeout,
        )
        self._sender, self._sender_name = sender, sender_name
        self._domain = message_id_domain or sender.rpartition("@")[2] or "huying.local"
        self._now = now

    def compose(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = formataddr((self._sender_name, self._sender)) if self._sender_name else self._sender
        mail["To"] = message.to
        mail["Subject"] = message.subject or message.text.split("\n", 1)[0]
        mail["Date"] = format_datetime(self._now().astimezone(SHANGHAI))
        mail["Message-ID"] = message_id(message.idempotency_key, domain=self._domain)
        mail["X-Huying-Notification-Id"] = message.notification_id
        if message.ticket_id:
            mail["X-Huying-Ticket"] = message.ticket_id
        mail["Content-Language"] = message.locale
        mail.set_content(message.text, charset="utf-8", cte="base64")
        return mail

    async def send(self, message: Message) -> SendResult:
        mail = self.compose(message)
        client = aiosmtplib.SMTP(**self._smtp)
        stage = Stage.CONNECT
        try:
            await client.connect()
            stage = Stage.ENVELOPE
            await client.mail(self._sender)
            await client.rcpt(message.to)
            stage = Stage.DATA
            await client.data(mail.as_bytes(policy=SMTP_POLICY))
        except (aiosmtplib.SMTPException, OSError) as error:
            client.close()  # no QUIT on a link that just failed: it would wait out another timeout
            return outcome(error, stage=stage)
        await _quit(client)
        return SendResult.sent(mail["Message-ID"])

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        return []  # SMTP says nothing after the 250; bounces come back as mail

    async def close(self) -> None:
        return None


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
