"""notify's other paths over real Kafka and the real database: failover to the second channel of a kind while the
first is down, delivery reports on sent notifications (delivered; undelivered → failed), an SLA event whose ticket
never opens is dead-lettered after the grace, and the ticket snapshot taking each fact once and in order."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import timedelta

import pytest

from huying.events import TicketTierChanged, TicketTransferred
from notify.channels.base import DeliveryReport
from notify.channels.httpsms.template import CallbackRejected
from notify.settings import NotifySettings
from tests.integration.notify.test_notify_pipeline import (
    FAST,
    OTHER_KEY,
    REPORT_KEY,
    Notify,
    Recording,
    a_ticket,
    breached,
    expected_keys,
    notify_settings,
    now,
    running,
)
from tests.support.kafka import consume, wait_until

pytestmark = pytest.mark.integration


async def test_a_primary_gateway_down_fails_over_to_the_second_channel_of_the_kind(infra, settings_for) -> None:
    primary, backup = Recording(name="sms-a"), Recording(name="sms-b")
    primary.failing_until = time.monotonic() + 3600  # down for the whole test
    settings = notify_settings(settings_for)
    from notify.app import create

    app = create(settings, channels=[primary, backup])
    async with app.router.lifespan_context(app):
        n = Notify(settings, app.state.runtime, None, infra.kafka_bootstrap, backup)  # type: ignore[arg-type]
        await a_ticket(n, "T-F-1")
        breaches = [breached("T-F-1", clock=c) for c in ("restore", "acceptance", "contact", "progress")]
        await n.produce("sla", *breaches)
        total = sum([len(await expected_keys(n, b)) for b in breaches])
        docs = await n.in_state(total, "sent", ticket_id="T-F-1")
        assert {d["channel_name"] for d in docs} == {"sms-b"}
        assert all(backup.delivered[d["_id"]] == 1 for d in docs)
        # the primary's breaker opened after FAST's threshold of calls, and later sends skipped it
        assert sum(primary.calls.values()) < total
        worker = app.state.runtime.broker.context.get("notify_worker")
        assert worker.channels.states()["sms-a"] in ("open", "half_open")


async def test_delivery_reports_settle_sent_notifications_once(notify_app) -> None:
    n = notify_app
    await n.produce("sla", breached("T-R-1"))
    docs = await n.in_state(2, "sent", ticket_id="T-R-1")
    good, bad = docs
    path, key = "/v1/delivery-reports/sms-test", {"X-API-Key": REPORT_KEY}
    body = {
        "reports": [
            {"gateway_id": good["gateway_ids"][0], "delivered": True, "status": "DELIVRD", "at": now().isoformat()},
            {"gateway_id": bad["gateway_ids"][0], "delivered": False, "status": "UNDELIV"},
            {"gateway_id": "G-nobody", "delivered": True, "status": "DELIVRD"},
        ]
    }
    answer = await n.http.post(path, json=body, headers=key)
    assert answer.status_code == 200, answer.text
    assert (sorted(answer.json()["settled"]), answer.json()["unmatched"]) == (
        sorted([good["_id"], bad["_id"]]),
        ["G-nobody"],
    )
    other = await n.http.post(path, json=body, headers={"X-API-Key": OTHER_KEY})
    assert other.status_code == 403  # a key is good for its own channel only
    assert (await n.http.post("/v1/delivery-reports/sms-nobody", json=body, headers=key)).status_code == 404
    assert (await n.http.post(path, content=b"{not json", headers=key)).status_code == 422
    assert (await n.runtime.db.notifications.find_one({"_id": good["_id"]}))["state"] == "delivered"
    failed = await n.runtime.db.notifications.find_one({"_id": bad["_id"]})
    assert (failed["state"], failed["error"]) == ("failed", "undelivered: UNDELIV")
    events = await n.published(3)
    assert Counter((e["type"], e["notification_id"]) for e in events) == {
        ("NotificationSent", good["_id"]): 1,
        ("NotificationSent", bad["_id"]): 1,
        ("NotificationFailed", bad["_id"]): 1,
    }


@pytest.fixture
async def notify_app(infra, settings_for):
    async with running(notify_settings(settings_for), infra.kafka_bootstrap, Recording()) as n:
        await a_ticket(n, "T-R-1")
        yield n


async def test_an_sla_event_whose_ticket_never_opens_is_dead_lettered_after_the_grace(infra, settings_for) -> None:
    settings = settings_for(NotifySettings, **{**FAST, "unknown_ticket_grace_seconds": 0.5})
    async with running(settings, infra.kafka_bootstrap, Recording()) as n:
        breach = breached("T-NEVER")
        await n.produce("sla", breach)
        letters = await consume(infra.kafka_bootstrap, n.runtime.topics.sla.dlq, count=1, timeout=30)
        letter = json.loads(letters[0].value)
        assert "T-NEVER" in json.dumps(letter, ensure_ascii=False)
        assert "no TicketOpened" in json.dumps(letter, ensure_ascii=False)
        assert await n.runtime.db.notifications.count_documents({"ticket_id": "T-NEVER"}) == 0


async def test_the_snapshot_takes_each_fact_once_and_never_goes_back(notify_app) -> None:
    n, db = notify_app, notify_app.runtime.db
    newer = TicketTierChanged(
        ticket_id="T-R-1",
        customer_id="C-N-1",
        tier="silver",
        previous_tier="gold",
        crm_revision=2,
        producer="dispatch",
        occurred_at=now(),
    )
    older = TicketTierChanged(
        ticket_id="T-R-1",
        customer_id="C-N-1",
        tier="bronze",
        previous_tier="gold",
        crm_revision=1,
        producer="dispatch",
        occurred_at=now() - timedelta(minutes=1),
    )
    moved = TicketTransferred(
        ticket_id="T-R-1",
        from_team="gz-access-ops",
        to_team="prov-core-network",
        reason="核心网故障",
        producer="dispatch",
    )
    await n.produce("tickets", newer, older, newer, moved, moved)
    doc = await wait_until(lambda: db.tickets.find_one({"_id": "T-R-1", "teams": "prov-core-network"}))
    assert (doc["tier"], doc["teams"]) == ("silver", ["prov-core-network"])


class SigningChannel(Recording):
    """A channel whose platform signs its callbacks (as the template shape does): `callback` checks the signature."""

    def callback(self, body: bytes, headers) -> list[DeliveryReport]:
        if headers.get("x-sms-signature") != "good":
            raise CallbackRejected("signature mismatch")
        return [DeliveryReport(r["id"], r["ok"], r["status"]) for r in json.loads(body)]


class PushingChannel(Recording):
    """A channel that pushes its reports (as CMPP's status reports): the pipeline subscribes."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.subscribers: list = []

    def subscribe(self, callback) -> None:
        self.subscribers.append(callback)


async def test_a_signed_callback_needs_no_key_but_a_good_signature(infra, settings_for) -> None:
    channel = SigningChannel(name="sms-signed")
    settings = notify_settings(settings_for, signed_report_channels=["sms-signed"])
    async with running(settings, infra.kafka_bootstrap, channel) as n:
        await a_ticket(n, "T-S-1")
        await n.produce("sla", breached("T-S-1"))
        docs = await n.in_state(2, "sent", ticket_id="T-S-1")
        body = json.dumps([{"id": d["gateway_ids"][0], "ok": True, "status": "DELIVRD"} for d in docs]).encode()
        path = "/v1/delivery-reports/sms-signed"
        forged = await n.http.post(path, content=body, headers={"X-Sms-Signature": "forged"})
        assert forged.status_code == 401
        genuine = await n.http.post(path, content=body, headers={"X-Sms-Signature": "good"})
        assert genuine.status_code == 200 and len(genuine.json()["settled"]) == 2
        await n.in_state(2, "delivered", ticket_id="T-S-1")


async def test_reports_a_channel_pushes_settle_its_notifications(infra, settings_for) -> None:
    channel = PushingChannel(name="sms-push")
    async with running(notify_settings(settings_for), infra.kafka_bootstrap, channel) as n:
        assert len(channel.subscribers) == 1
        await a_ticket(n, "T-P-1")
        channel.unknown = True  # submitted, unanswered: only the pushed report can settle it
        await n.produce("sla", breached("T-P-1"))
        docs = await n.in_state(2, "unknown", ticket_id="T-P-1")
        for doc in docs:
            await channel.subscribers[0](DeliveryReport(doc["gateway_ids"][0], True, "DELIVRD"))
        await n.in_state(2, "delivered", ticket_id="T-P-1")
        assert all(channel.calls[d["_id"]] == 1 for d in docs)


async def test_an_event_older_than_the_planning_age_keeps_the_snapshot_but_notifies_nobody(notify_app) -> None:
    n = notify_app
    old = breached("T-R-1").model_copy(update={"occurred_at": now() - timedelta(days=4)})
    fresh = breached("T-R-1", clock="acceptance")
    await n.produce("sla", old, fresh)
    await wait_until(lambda: n.notifications(event_id=str(fresh.event_id)), timeout=30)
    assert await n.notifications(event_id=str(old.event_id)) == []  # read before `fresh`, on the same partition
