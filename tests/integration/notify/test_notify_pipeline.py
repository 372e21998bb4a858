"""notify end to end over real Kafka and the real database: an event on Kafka ends as exactly one recorded and sent
notification per intent, a redelivered event sends nothing new, a channel that fails for a while delivers everything
after it recovers and nothing twice, an unknown outcome is not resent and is settled by a delivery report, and the
outbox view needs a token and masks personal data."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from huying.events import Contact, CustomerUpserted, Event, SlaBreached, TicketDispatched, TicketOpened
from huying.service import Runtime
from notify.app import create
from notify.channels.base import DeliveryReport, Message, SendResult
from notify.delivery.planning import customer_view
from notify.domain.recipients import NotifyContext
from notify.domain.rules import plan
from notify.policy import load_catalog
from notify.policy.staff import load_staff
from notify.settings import NotifySettings
from notify.snapshots import load as load_snapshot
from tests.support.auth import SUPERVISOR, bearer
from tests.support.kafka import consume, produce, wait_until

pytestmark = pytest.mark.integration

FAST = dict(
    worker_poll_seconds=0.05, backoff_initial_seconds=0.05, backoff_max_seconds=0.4, breaker_threshold=3,
    breaker_cooldown_seconds=0.5, unknown_query_seconds=0.2, max_attempts=200, unknown_ticket_grace_seconds=5.0,
)  # fmt: skip
REPORT_KEY = "gateway-report-key-for-tests"
OTHER_KEY = "another-gateways-report-key"


@dataclass
class Recording:
    """A test channel: answers `sent` (or what `answer` says) and counts every call per notification."""

    name: str = "sms-test"
    kind: str = "sms"
    calls: Counter = field(default_factory=Counter)
    delivered: Counter = field(default_factory=Counter)  # calls answered `sent`
    failing_until: float = 0.0  # monotonic time before which every send answers `retry`
    unknown: bool = False

    async def send(self, message: Message) -> SendResult:
        self.calls[message.notification_id] += 1
        if time.monotonic() < self.failing_until:
            return SendResult.retry("HTTP 503 (the gateway is down)")
        if self.unknown:
            return SendResult.unknown("timeout after submit", f"G-{message.notification_id}")
        self.delivered[message.notification_id] += 1
        return SendResult.sent(f"G-{message.notification_id}")

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        return []

    async def close(self) -> None:
        return None


@dataclass
class Notify:
    settings: NotifySettings
    runtime: Runtime
    http: httpx.AsyncClient
    bootstrap: str
    channel: Recording

    async def produce(self, family: str, *events: Event) -> None:
        await produce(self.bootstrap, getattr(self.runtime.topics, family).name, *events)

    async def notifications(self, **query: Any) -> list[dict[str, Any]]:
        return await self.runtime.db.notifications.find(query).to_list()

    async def in_state(self, count: int, state: str, **query: Any) -> list[dict[str, Any]]:
        async def check() -> list[dict[str, Any]] | None:
            docs = await self.notifications(**query)
            return docs if len(docs) == count and all(d["state"] == state for d in docs) else None

        return await wait_until(check, timeout=30)

    async def published(self, count: int) -> list[dict[str, Any]]:
        await wait_until(lambda: self._drained(), timeout=30)
        records = await consume(self.bootstrap, self.runtime.topics.notifications.name, count=count)
        return [json.loads(r.value) for r in records]

    async def _drained(self) -> bool:
        return await self.runtime.db.notifications.count_documents({"outbox_pending": True}) == 0


@contextlib.asynccontextmanager
async def running(settings: NotifySettings, bootstrap: str, channel: Recording) -> AsyncIterator[Notify]:
    app = create(settings, channels=[channel])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as http:
            yield Notify(settings, app.state.runtime, http, bootstrap, channel)


def notify_settings(settings_for: Any, **overrides: Any) -> NotifySettings:
    keys = {"sms-test": SecretStr(REPORT_KEY), "sms-b": SecretStr(OTHER_KEY)}
    return settings_for(NotifySettings, **FAST, delivery_report_keys=keys, **overrides)


@pytest.fixture
async def notify(infra, settings_for) -> AsyncIterator[Notify]:
    async with running(notify_settings(settings_for), infra.kafka_bootstrap, Recording()) as n:
        yield n


def now() -> datetime:
    return datetime.now(UTC)


def customer() -> CustomerUpserted:
    return CustomerUpserted(
        customer_id="C-N-1", name="广州某银行", tier="gold", city="广州", producer="crm", occurred_at=now(),
        account_manager=Contact(name="李娜", phone="13900139000", email="lina@example.com"),
        contacts=[Contact(name="王伟", phone="13800138000")],
    )  # fmt: skip


def opened(ticket_id: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id, source_system="10086-cc", external_id=f"X-{ticket_id}", channel="hotline",
        customer_id="C-N-1", service_line_id="L-N-1", tier="gold", scope="intra_city", category="access",
        city="广州", reported_at=now() - timedelta(minutes=5), full_outage=True, producer="intake",
        contact=Contact(name="王伟", phone="13800138000"), description="专线中断",
    )  # fmt: skip


def dispatched(ticket_id: str) -> TicketDispatched:
    return TicketDispatched(ticket_id=ticket_id, teams=["gz-access-ops"], producer="dispatch")


def breached(ticket_id: str, clock: str = "restore") -> SlaBreached:
    return SlaBreached(
        ticket_id=ticket_id, clock=clock, policy_version="2026.1", deadline=now() - timedelta(seconds=1),
        producer="sla-watch",
    )  # fmt: skip


async def a_ticket(n: Notify, ticket_id: str) -> None:
    await n.produce("crm", customer())
    await wait_until(lambda: n.runtime.db.customers.find_one({"_id": "C-N-1"}))
    await n.produce("tickets", opened(ticket_id), dispatched(ticket_id))
    await wait_until(lambda: n.runtime.db.tickets.find_one({"_id": ticket_id, "teams": "gz-access-ops"}))


async def expected_keys(n: Notify, event: Event) -> set[str]:
    """What `plan` says this event owes, from the same snapshot, CRM view and staff directory notify holds."""
    snapshot = await load_snapshot(n.runtime.db, event.ticket_id)  # type: ignore[attr-defined]
    ctx = NotifyContext(load_staff(), snapshot, await customer_view(n.runtime.db, "C-N-1"))
    return {i.dedup_key for i in plan(event, ctx, rules=load_catalog().rules)}


async def test_a_breach_on_kafka_ends_as_one_sent_notification_per_intent_and_a_redelivery_sends_nothing_new(notify):
    await a_ticket(notify, "T-N-1")
    breach = breached("T-N-1")
    await notify.produce("sla", breach)
    keys = await expected_keys(notify, breach)
    assert len(keys) >= 2  # the team lead and the duty supervisor, by SMS
    docs = await notify.in_state(len(keys), "sent", event_id=str(breach.event_id))
    assert {d["dedup_key"] for d in docs} == keys
    assert all(notify.channel.delivered[d["_id"]] == 1 for d in docs)
    assert all("T-N-1" in d["text"] and d["attempts"] == 1 for d in docs)

    await notify.produce("sla", breach)  # redelivered; the next breach on the ticket's partition marks it read
    marker = breached("T-N-1", clock="acceptance")
    await notify.produce("sla", marker)
    await notify.in_state(len(await expected_keys(notify, marker)), "sent", event_id=str(marker.event_id))
    assert len(await notify.notifications(event_id=str(breach.event_id))) == len(keys)
    assert all(count == 1 for count in notify.channel.calls.values())

    events = await notify.published(len(notify.channel.calls))
    sent = [e for e in events if e["type"] == "NotificationSent"]
    assert len({e["event_id"] for e in sent}) == len(sent) == len(notify.channel.calls)
    assert {e["notification_id"] for e in sent} == set(notify.channel.calls)
    assert all(e["channel"] == "sms" and e["attempts"] == 1 for e in sent)


async def test_an_sla_event_before_the_ticket_opening_waits_for_it(notify):
    await notify.produce("crm", customer())
    await wait_until(lambda: notify.runtime.db.customers.find_one({"_id": "C-N-1"}))
    breach = breached("T-N-EARLY")
    await notify.produce("sla", breach)
    await asyncio.sleep(0.3)  # the SLA topic runs ahead; the opening comes within the grace
    await notify.produce("tickets", opened("T-N-EARLY"))
    docs = await wait_until(lambda: notify.notifications(event_id=str(breach.event_id)), timeout=30)
    assert docs and all(d["ticket_id"] == "T-N-EARLY" for d in docs)


async def test_a_gateway_down_for_a_while_delivers_every_notification_after_recovery_none_twice(notify):
    await a_ticket(notify, "T-N-2")
    notify.channel.failing_until = time.monotonic() + 3.0
    breaches = [breached("T-N-2", clock=c) for c in ("restore", "acceptance", "contact", "progress", "feedback")]
    await notify.produce("sla", *breaches)
    total = sum([len(await expected_keys(notify, b)) for b in breaches])
    docs = await notify.in_state(total, "sent", ticket_id="T-N-2")
    assert time.monotonic() >= notify.channel.failing_until
    assert all(notify.channel.delivered[d["_id"]] == 1 for d in docs)  # every one delivered, none twice
    assert max(d["attempts"] for d in docs) > 1  # they were retried (with backoff) while the gateway was down
    events = await notify.published(total)
    assert Counter(e["type"] for e in events) == {"NotificationSent": total}


async def test_an_unknown_outcome_is_not_resent_and_a_delivery_report_settles_it(notify):
    await a_ticket(notify, "T-N-3")
    notify.channel.unknown = True
    breach = breached("T-N-3")
    await notify.produce("sla", breach)
    count = len(await expected_keys(notify, breach))
    docs = await notify.in_state(count, "unknown", event_id=str(breach.event_id))

    async def queried_twice() -> bool:  # two status queries passed (the channel cannot say): still not resent
        found = await notify.notifications(event_id=str(breach.event_id), checks={"$gte": 2})
        return len(found) == count

    await wait_until(queried_twice, timeout=30)
    assert all(notify.channel.calls[d["_id"]] == 1 for d in docs)

    reports = {"reports": [{"gateway_id": d["gateway_ids"][0], "delivered": True, "status": "DELIVRD"} for d in docs]}
    path = "/v1/delivery-reports/sms-test"
    assert (await notify.http.post(path, json=reports)).status_code == 401
    assert (await notify.http.post(path, json=reports, headers={"X-API-Key": "wrong"})).status_code == 401
    answer = await notify.http.post(path, json=reports, headers={"X-API-Key": REPORT_KEY})
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["settled"]) == sorted(d["_id"] for d in docs)
    again = await notify.http.post(path, json=reports, headers={"X-API-Key": REPORT_KEY})
    assert again.json()["settled"] == []  # a report delivered twice changes nothing
    await notify.in_state(count, "delivered", event_id=str(breach.event_id))
    events = await notify.published(count)
    assert Counter(e["type"] for e in events) == {"NotificationSent": count}
    assert all(notify.channel.calls[d["_id"]] == 1 for d in docs)


async def test_the_outbox_view_needs_a_token_and_masks_phones(notify):
    await a_ticket(notify, "T-N-4")
    await notify.produce("sla", breached("T-N-4"))
    await wait_until(lambda: notify.notifications(ticket_id="T-N-4", state="sent"))
    assert (await notify.http.get("/v1/notifications")).status_code == 401
    headers = bearer(notify.settings, SUPERVISOR, now=now())
    answer = await notify.http.get("/v1/notifications", params={"ticket_id": "T-N-4"}, headers=headers)
    assert answer.status_code == 200, answer.text
    listed = answer.json()["notifications"]
    assert listed and all(n["ticket_id"] == "T-N-4" for n in listed)
    assert all("****" in n["recipient"]["phone"] for n in listed if n["recipient"]["phone"])
    body = json.dumps(listed, ensure_ascii=False)
    assert "13600136001" not in body and "13700137033" not in body  # the lead's and the supervisor's numbers
    bad = await notify.http.get("/v1/notifications", params={"state": "nonsense"}, headers=headers)
    assert bad.status_code == 422


async def test_with_the_default_configuration_every_notification_is_recorded_in_the_embedded_outbox(
    infra, settings_for
) -> None:
    settings = notify_settings(settings_for)
    assert settings.use_channels is None  # what `make run` starts with: whatever is configured, here nothing
    app = create(settings)
    async with app.router.lifespan_context(app):
        n = Notify(settings, app.state.runtime, None, infra.kafka_bootstrap, Recording())  # type: ignore[arg-type]
        await a_ticket(n, "T-N-5")
        breach = breached("T-N-5")
        await n.produce("sla", breach)
        count = len(await expected_keys(n, breach))
        docs = await n.in_state(count, "sent", event_id=str(breach.event_id))
        assert {(d["channel"], d["delivered_kind"], d["channel_name"]) for d in docs} == {("sms", "outbox", "outbox")}
        events = await n.published(count)
        assert Counter((e["type"], e["channel"]) for e in events) == {("NotificationSent", "outbox"): count}
