"""Email over SMTP against a real aiosmtpd server on loopback: the message as received decodes to the Chinese subject
and body, its Message-ID comes from the idempotency key; STARTTLS with login; 4xx replies retry, 5xx are rejected, a
timeout after DATA is unknown, a server that is not there is a retry."""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import subprocess
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from notify.channels.base import Message, Outcome
from notify.channels.smtp import SmtpChannel, message_id

pytestmark = pytest.mark.integration

SUBJECT = "【呼应】工单T-20261202-000123 专线中断：承诺12:30前恢复"
BODY = "尊敬的客户：\n您的专线（上海—北京）于10:15中断，我们已派单处理，承诺12:30前恢复。\n咨询热线10086。\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler: keeps what it received; `rcpt_reply` / `data_reply` / `data_delay` misbehave."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self.data_delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler, port = Mailbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def channel(port: int, **overrides) -> SmtpChannel:
    values = dict(host="127.0.0.1", port=port, sender="noc@huying.example", sender_name="呼应响应中心", timeout=1.0)
    return SmtpChannel("email", **(values | overrides))


def message(**overrides) -> Message:
    values = dict(
        notification_id="n-1",
        idempotency_key="evt-1|customer|zhang.san@customer.example|email",
        to="zhang.san@customer.example",
        text=BODY,
        subject=SUBJECT,
        ticket_id="T-20261202-000123",
    )
    return Message(**(values | overrides))


async def test_the_received_message_reads_in_chinese_with_a_message_id_from_the_idempotency_key(mailbox):
    handler, port = mailbox
    result = await channel(port).send(message())
    assert result.outcome is Outcome.SENT
    ((sender, rcpts, raw),) = handler.received
    assert (sender, rcpts) == ("noc@huying.example", ["zhang.san@customer.example"])
    assert raw.isascii()  # every header and the body are encoded for 7-bit transport
    mail = email.message_from_bytes(raw, policy=default_policy)
    assert str(make_header(decode_header(mail["Subject"]))) == SUBJECT
    assert mail["Subject"] == SUBJECT
    assert mail["From"].addresses[0].display_name == "呼应响应中心"
    assert mail.get_content().replace("\r\n", "\n") == BODY
    assert mail.get_content_charset() == "utf-8"
    expected_id = message_id(message().idempotency_key, domain="huying.example")
    assert mail["Message-ID"] == expected_id and result.gateway_ids == (expected_id,)
    assert mail["X-Huying-Ticket"] == "T-20261202-000123"


async def test_a_resend_carries_the_same_message_id(mailbox):
    handler, port = mailbox
    smtp = channel(port)
    await smtp.send(message())
    await smtp.send(message(notification_id="n-1-again"))
    ids = {email.message_from_bytes(raw, policy=default_policy)["Message-ID"] for _, _, raw in handler.received}
    assert len(handler.received) == 2 and len(ids) == 1


async def test_the_subject_defaults_to_the_first_line(mailbox):
    handler, port = mailbox
    await channel(port).send(message(subject=None))
    mail = email.message_from_bytes(handler.received[0][2], policy=default_policy)
    assert mail["Subject"] == "尊敬的客户："


@pytest.mark.parametrize(
    ("where", "reply", "expected"),
    [
        ("rcpt", "451 4.3.0 Mailbox temporarily unavailable", Outcome.RETRY),
        ("rcpt", "550 5.1.1 No such user", Outcome.REJECTED),
        ("data", "452 4.3.1 Insufficient storage", Outcome.RETRY),
        ("data", "554 5.7.1 Message refused", Outcome.REJECTED),
    ],
)
async def test_4xx_replies_retry_and_5xx_are_rejected(mailbox, where, reply, expected):
    handler, port = mailbox
    setattr(handler, f"{where}_reply", reply)
    result = await channel(port).send(message())
    assert result.outcome is expected and reply[:3] in (result.error or "")
    assert handler.received == []


async def test_a_timeout_after_data_is_unknown(mailbox):
    handler, port = mailbox
    handler.data_delay = 3.0
    result = await channel(port, timeout=0.5).send(message())
    assert result.outcome is Outcome.UNKNOWN and "data" in (result.error or "")


async def test_no_server_is_a_retry():
    result = await channel(free_port()).send(message())
    assert result.outcome is Outcome.RETRY and "connect" in (result.error or "")


@pytest.fixture
def tls_context(tmp_path: Path) -> ssl.SSLContext:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_starttls_and_login(tls_context):
    logins: list[tuple[str, bool]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"noc" and auth_data.password == b"pa55"
        logins.append((auth_data.login.decode(), session.ssl is not None))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers the failure with 535

    handler, port = Mailbox(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        secure = channel(port, start_tls=True, validate_certs=False, username="noc", password="pa55")
        assert (await secure.send(message())).outcome is Outcome.SENT
        wrong = channel(port, start_tls=True, validate_certs=False, username="noc", password="nope")
        assert (await wrong.send(message())).outcome is Outcome.REJECTED  # 535: the credentials are wrong
        plain = channel(port)  # no STARTTLS where the server requires it: 530
        assert (await plain.send(message())).outcome is Outcome.REJECTED
    finally:
        controller.stop()
    assert logins[0] == ("noc", True)  # the password went over TLS
    assert len(handler.received) == 1
