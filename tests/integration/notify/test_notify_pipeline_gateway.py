"""The whole pipeline against the loopback HTTP SMS gateway (the 云MAS shape, real HTTP, the simulator checking every
MAC): the gateway down for a while under a burst of breaches → every notification delivered once it is back, none
twice at the gateway; while it is down the channel's breaker opens and the notifications wait rather than die."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest

from notify.channels.gateway_sim import GatewaySimulator
from notify.channels.httpsms import MasSmsChannel
from tests.integration.notify.test_notify_pipeline import (
    Notify,
    a_ticket,
    breached,
    expected_keys,
    notify_settings,
)
from tests.support.kafka import wait_until

pytestmark = pytest.mark.integration

EC, AP, SECRET = "呼应科技", "huying", "mas-secret"
DOWN_SECONDS = 30.0  # issue 13: "the gateway down for 30 s under load"


async def test_the_gateway_down_under_a_burst_delivers_everything_after_recovery_none_twice(infra, settings_for):
    from notify.app import create

    async with GatewaySimulator(mas_accounts={(EC, AP): SECRET}) as gateway:
        channel = MasSmsChannel(
            "sms-mas", submit_url=f"{gateway.url}/sms/norsubmit", query_url=f"{gateway.url}/sms/query", ec_name=EC,
            ap_id=AP, secret_key=SECRET, sign="SIGN01", timeout=httpx.Timeout(2.0, connect=1.0),
        )  # fmt: skip
        settings = notify_settings(settings_for)
        app = create(settings, channels=[channel])
        async with app.router.lifespan_context(app):
            n = Notify(settings, app.state.runtime, None, infra.kafka_bootstrap, None)  # type: ignore[arg-type]
            tickets = [f"T-G-{i}" for i in range(4)]
            for ticket in tickets:
                await a_ticket(n, ticket)
            await gateway.down()
            back_at = time.monotonic() + DOWN_SECONDS
            breaches = [breached(t, clock=c) for t in tickets for c in ("restore", "acceptance", "contact")]
            await n.produce("sla", *breaches)
            total = sum([len(await expected_keys(n, b)) for b in breaches])
            assert total >= 2 * len(breaches)

            async def while_down() -> bool:  # it tried, failed, and opened its breaker; nothing is dead
                docs = await n.notifications()
                worker = app.state.runtime.broker.context.get("notify_worker")
                tried = [d for d in docs if d["attempts"] > 0]
                return bool(tried) and worker.channels.states()["sms-mas"] != "closed" and all(
                    d["state"] == "pending" for d in docs)  # fmt: skip

            await n.in_state(total, "pending")
            await wait_until(while_down, timeout=DOWN_SECONDS)
            await asyncio.sleep(max(0.0, back_at - time.monotonic()))  # the outage lasts its full length
            await gateway.up()

            docs = await n.in_state(total, "sent")
            assert len(gateway.received) == total and gateway.twice() == []  # every one once at the gateway
            assert {r.gateway_id for r in gateway.received} == {d["gateway_ids"][0] for d in docs}
            assert max(d["attempts"] for d in docs) > 1
            events = await n.published(total)
            assert Counter(e["type"] for e in events) == {"NotificationSent": total}
