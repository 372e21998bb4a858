"""Webhooks against a real HTTP receiver on loopback that checks the signature itself (HMAC-SHA256 of the raw body)
and keys on Idempotency-Key: a resend carries the same key; 5xx and 429 retry, other 4xx are rejected, a receiver
that takes the call and never answers is unknown, one that is down is a retry."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from notify.channels.base import Message, Outcome
from notify.channels.gateway_sim import LoopbackServer
from notify.channels.webhook import WebhookChannel

pytestmark = pytest.mark.integration

SECRET = "whsec-test"


@dataclass
class Receiver:
    """Accepts a call only with a valid signature; remembers each idempotency key once, like a careful consumer."""

    status: int = 200
    retry_after: str | None = None
    stall: float = 0.0
    calls: list[dict] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    bad_signatures: int = 0

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-huying-signature", ""), expected):
            self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        payload = json.loads(body)
        key = request.headers["idempotency-key"]
        self.calls.append({"headers": dict(request.headers), "payload": payload})
        self.keys[key] = self.keys.get(key, 0) + 1
        if self.stall:
            await asyncio.sleep(self.stall)
        headers = {"Retry-After": self.retry_after} if self.retry_after else None
        return JSONResponse({"ok": self.status < 300}, status_code=self.status, headers=headers)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, LoopbackServer]]:
    handler = Receiver()
    async with LoopbackServer(Starlette(routes=[Route("/hook", handler.handle, methods=["POST"])])) as server:
        yield handler, server


def channel(server: LoopbackServer, *, secret: str = SECRET, **kwargs) -> WebhookChannel:
    return WebhookChannel(
        "hook", secret=secret, url=f"{server.url}/hook", timeout=httpx.Timeout(1.0, connect=1.0), **kwargs
    )


def message(**overrides) -> Message:
    values = dict(
        notification_id="n-1",
        idempotency_key="evt-7|duty_supervisor|ops-chat|webhook",
        to="ops-chat",
        text="工单T-20261202-000123 即将超时：承诺12:30前恢复。",
        ticket_id="T-20261202-000123",
        template="sla_warning",
        params={"ticket": "T-20261202-000123"},
    )
    return Message(**(values | overrides))


async def test_the_receiver_verifies_the_signature_and_reads_the_notification(receiver):
    handler, server = receiver
    hook = channel(server)
    result = await hook.send(message())
    await hook.close()
    assert result.outcome is Outcome.SENT
    (call,) = handler.calls
    assert call["payload"]["text"] == message().text and call["payload"]["ticket_id"] == "T-20261202-000123"
    assert call["headers"]["idempotency-key"] == message().idempotency_key
    assert call["headers"]["x-huying-timestamp"].isdigit()
    assert handler.bad_signatures == 0


async def test_a_wrong_secret_is_refused_by_the_receiver_and_rejected(receiver):
    handler, server = receiver
    hook = channel(server, secret="not-it")
    result = await hook.send(message())
    await hook.close()
    assert result.outcome is Outcome.REJECTED and handler.bad_signatures == 1 and handler.calls == []


async def test_a_resend_carries_the_same_idempotency_key(receiver):
    handler, server = receiver
    handler.stall = 2.0
    hook = channel(server)
    first = await hook.send(message())  # taken, never answered in time
    handler.stall = 0.0
    second = await hook.send(message())  # the pipeline may resend a webhook: the receiver sees the same key
    await hook.close()
    assert (first.outcome, second.outcome) == (Outcome.UNKNOWN, Outcome.SENT)
    assert handler.keys == {message().idempotency_key: 2}


async def test_a_url_recipient_is_posted_to_directly_and_no_url_at_all_is_rejected(receiver):
    handler, server = receiver
    direct = WebhookChannel("hook", secret=SECRET)
    assert (await direct.send(message(to=f"{server.url}/hook"))).outcome is Outcome.SENT
    assert (await direct.send(message(to="ops-chat"))).outcome is Outcome.REJECTED
    await direct.close()
    assert len(handler.calls) == 1


async def test_a_non_ascii_key_travels_percent_encoded_and_stable(receiver):
    handler, server = receiver
    hook = channel(server)
    await hook.send(message(idempotency_key="evt-8|值班长|张三|webhook"))
    await hook.send(message(idempotency_key="evt-8|值班长|张三|webhook"))
    await hook.close()
    assert list(handler.keys.values()) == [2]
    assert next(iter(handler.keys)).isascii()


@pytest.mark.parametrize(
    ("status", "retry_after", "expected", "wait"),
    [
        (500, None, Outcome.RETRY, None),
        (503, "12", Outcome.RETRY, 12.0),
        (429, "3", Outcome.RETRY, 3.0),
        (400, None, Outcome.REJECTED, None),
        (404, None, Outcome.REJECTED, None),
        (410, None, Outcome.REJECTED, None),
    ],
)
async def test_http_outcomes(receiver, status, retry_after, expected, wait):
    handler, server = receiver
    handler.status, handler.retry_after = status, retry_after
    hook = channel(server)
    result = await hook.send(message())
    await hook.close()
    assert result.outcome is expected and result.retry_after == wait


async def test_a_receiver_that_never_answers_is_unknown(receiver):
    handler, server = receiver
    handler.stall = math.inf
    hook = channel(server)
    result = await hook.send(message())
    await hook.close()
    handler.stall = 0.0
    assert result.outcome is Outcome.UNKNOWN and len(handler.calls) == 1


async def test_a_receiver_that_is_down_is_a_retry(receiver):
    handler, server = receiver
    await server.down()
    hook = channel(server)
    down = await hook.send(message())
    await server.up()
    up = await hook.send(message())
    await hook.close()
    assert (down.outcome, up.outcome) == (Outcome.RETRY, Outcome.SENT)
    assert len(handler.calls) == 1
