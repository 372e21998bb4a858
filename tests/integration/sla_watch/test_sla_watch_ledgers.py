"""sla-watch over real Kafka and the real database, on the fast policy: a CRM tier change (TicketTierChanged from
dispatch) re-prices a running ticket and its timers follow; resolved tickets count against their line's yearly
quality budget, each budget event once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from huying.events import TicketCancelled, TicketResolved, TicketTierChanged
from sla_watch.domain import SHANGHAI
from tests.integration.sla_watch.conftest import running, tickets_topic
from tests.integration.sla_watch.support import describe, now, opened, seconds, uid
from tests.support.kafka import produce, wait_until

pytestmark = pytest.mark.integration


async def test_a_tier_change_reprices_the_running_clocks_and_the_breach_follows(infra, sla_settings, tap) -> None:
    e = f"T-E-{uid()}"
    async with running(sla_settings):
        t0 = now()
        # silver: restore due 240 s after the report (t0+125); gold: 120 s (t0+5)
        await produce(infra.kafka_bootstrap, tickets_topic(sla_settings), opened(e, t0, reported=-115, tier="silver"))
        started = (await tap.wait_for(e, "SlaClockStarted", "restore"))[0]
        change = TicketTierChanged(
            ticket_id=e, occurred_at=seconds(1, t0), customer_id="C-1", tier="gold", previous_tier="silver",
            crm_revision=2, producer="dispatch",
        )  # fmt: skip
        await produce(infra.kafka_bootstrap, tickets_topic(sla_settings), change, change)  # and redelivered
        moved = (await tap.wait_for(e, "SlaDeadlineMoved", "restore", reason="tier_changed"))[0]
        breach = (await tap.wait_for(e, "SlaBreached", "restore", timeout=20))[0]
        await asyncio.sleep(1)

    assert started.body["deadline"].startswith(seconds(125, t0).isoformat()[:19])
    assert moved.body["new_deadline"].startswith(seconds(5, t0).isoformat()[:19])
    assert abs(breach.occurred_at - seconds(5, t0)) < timedelta(milliseconds=2)
    assert 0 <= breach.lateness < 5.0
    assert len(tap.of(e, "SlaDeadlineMoved", "restore", reason="tier_changed")) == 1
    assert not tap.duplicates(), describe(tap, tap.duplicates())


async def test_resolved_faults_count_against_the_lines_yearly_budget_once(infra, sla_settings, tap) -> None:
    line, tag = f"L-Q-{uid()}", uid()
    t0 = now()
    topic = tickets_topic(sla_settings)

    def fault(n: int, reported: float, **kw):
        ticket = f"T-Q{n}-{tag}"
        return [
            opened(ticket, t0, reported=reported, service_line_id=line, **kw),
            TicketResolved(ticket_id=ticket, occurred_at=seconds(1, t0), cause="光缆中断", restored_at=t0),
        ]

    async with running(sla_settings):
        # gold: ≤ 4 faults and ≤ 6 h a year. A terminal-only fault and a cancelled one count nothing.
        await produce(infra.kafka_bootstrap, topic, *fault(0, -60, terminal_only=True, tier="standard"))
        cancelled = fault(9, -60)
        await produce(
            infra.kafka_bootstrap, topic, *cancelled,
            TicketCancelled(ticket_id=cancelled[0].ticket_id, occurred_at=seconds(2, t0), reason="重复报障"),
        )  # fmt: skip
        for n in range(1, 4):
            await produce(infra.kafka_bootstrap, topic, *fault(n, -60))
        await asyncio.sleep(2)
        assert not budget_events(tap, line)  # 3 faults of 4: below the 80 % warning
        await produce(infra.kafka_bootstrap, topic, *fault(4, -60))
        await wait_budget(tap, line, "QualityBudgetWarning")
        fifth = fault(5, -7 * 3600)  # 7 h of outage on its own
        await produce(infra.kafka_bootstrap, topic, *fifth, fifth[1])  # the resolution redelivered
        await wait_budget(tap, line, "QualityBudgetExceeded", count=2)
        await asyncio.sleep(2)

    seen = [(s.type, s.body["measure"], s.body["used"], s.body["budget"]) for s in budget_events(tap, line)]
    assert sorted(seen) == [
        ("QualityBudgetExceeded", "outage_hours", pytest.approx(7 + 4 / 60, abs=0.01), 6),
        ("QualityBudgetExceeded", "repeat_faults", 5, 4),
        ("QualityBudgetWarning", "repeat_faults", 4, 4),
    ]
    assert {s.body["year"] for s in budget_events(tap, line)} == {seconds(-60, t0).astimezone(SHANGHAI).year}
    # (the fifth ticket's retroactive breaches may race its resolution and go out twice under one id: at-least-once)
    assert len({s.event_id for s in budget_events(tap, line)}) == len(budget_events(tap, line)) == 3


def budget_events(tap, line: str) -> list:
    return [s for s in tap.seen if s.body.get("service_line_id") == line]


async def wait_budget(tap, line: str, kind: str, *, count: int = 1, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.1)):
        if len([s for s in budget_events(tap, line) if s.type == kind]) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} × {kind} for {line} not seen: {[s.body for s in budget_events(tap, line)]}")


async def test_a_settled_ticket_gets_its_purge_date_and_a_running_one_keeps_none(
    infra, sla_settings, tap, mongo
) -> None:
    running_ticket, settled_ticket = f"T-R1-{uid()}", f"T-R2-{uid()}"
    db = mongo[sla_settings.database_name]
    async with running(sla_settings):
        t0 = now()
        await produce(
            infra.kafka_bootstrap,
            tickets_topic(sla_settings),
            opened(running_ticket, t0),
            opened(settled_ticket, t0),
            TicketCancelled(ticket_id=settled_ticket, occurred_at=seconds(1, t0), reason="重复报障"),
        )
        await wait_until(lambda: _status(db, settled_ticket, "cancelled"), timeout=30)
        await wait_until(lambda: _status(db, running_ticket, "open"), timeout=30)
    horizon = timedelta(days=sla_settings.retention_days)
    for collection in (db.clocks, db.timers):
        settled = await collection.find_one({"_id": settled_ticket})
        assert abs(settled["purge_after"] - (t0 + horizon)) < timedelta(seconds=30), collection.name
        assert "purge_after" not in await collection.find_one({"_id": running_ticket}), collection.name
        assert (await collection.index_information())["purge_after_1"]["expireAfterSeconds"] == 0
    assert "partition" not in settled  # a settled ticket's timers stay out of a takeover's load
    assert (await db.timers.find_one({"_id": running_ticket}))["partition"] in range(3)


async def _status(db, ticket_id: str, status: str) -> bool:
    ledger = await db.clocks.find_one({"_id": ticket_id}, {"status": 1})
    timers = await db.timers.find_one({"_id": ticket_id}, {"_id": 1})
    return bool(ledger and timers and ledger.get("status") == status)
