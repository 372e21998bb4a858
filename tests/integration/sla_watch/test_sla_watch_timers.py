"""sla-watch over real Kafka and the real database, on the fast policy (one policy minute = one second):
every kind of timer fires on time and once, suspension moves a deadline, overdue timers fire once after
downtime, marked late."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from huying.events import CustomerContacted, TicketAccepted, TicketResumed, TicketSuspended
from tests.integration.sla_watch.conftest import running, tickets_topic
from tests.integration.sla_watch.support import describe, dispatched, now, opened, seconds, uid
from tests.support.kafka import produce

pytestmark = pytest.mark.integration

ON_TIME = 5.0  # generous bound for a shared 2-core machine; the benchmark measures the real figure


async def test_every_timer_kind_fires_once_on_time(infra, sla_settings, tap) -> None:
    a, b = f"T-A-{uid()}", f"T-B-{uid()}"
    async with running(sla_settings):
        t0 = now()
        await produce(
            infra.kafka_bootstrap,
            tickets_topic(sla_settings),
            # A: gold full outage, reported 5 s ago: leadership notice now; team-2 never accepts.
            opened(a, t0, reported=-5, full_outage=True, leadership_notice=True),
            dispatched(a, t0, "team-1", "team-2"),
            TicketAccepted(ticket_id=a, occurred_at=seconds(2, t0), team="team-1"),
            # B: reported 172 s ago: restore and director overdue before the ticket existed; deputy GM in 8 s.
            opened(b, t0, reported=-172),
        )
        await tap.wait_for(a, "SlaBreached", "progress", timeout=40)
        await asyncio.sleep(1)

    expected = {  # (ticket, type, clock, subject) → due, seconds from t0 (None: overdue when created)
        (a, "EscalationRaised", "restore", None): 0,
        (a, "SlaWarning", "acceptance", "team-2"): 8,
        (a, "SlaBreached", "acceptance", "team-2"): 10,
        (a, "SlaWarning", "contact", None): 12,
        (a, "SlaBreached", "contact", None): 15,
        (a, "ProgressUpdateDue", "progress", None): 19,
        (a, "SlaBreached", "progress", None): 25,
        (b, "EscalationRaised", "escalation_director", None): None,
        (b, "SlaBreached", "restore", None): None,
        (b, "SlaBreached", "progress", None): None,
        (b, "EscalationRaised", "escalation_deputy_gm", None): 8,
    }
    for (ticket, kind, clock, subject), due in expected.items():
        found = tap.of(ticket, kind, clock, subject=subject)
        assert len(found) == 1, (ticket, kind, clock, "\n".join(map(str, tap.summary())))
        event = found[0]
        if due is None:  # overdue at creation: fired at once, marked late and (breaches) retroactive
            assert event.body["late_by_seconds"] > 40
            assert (event.received - t0).total_seconds() < ON_TIME
        else:
            assert abs((event.occurred_at - seconds(due, t0)).total_seconds()) < 0.01
            assert 0 <= event.lateness < ON_TIME, (kind, clock, event.lateness)
    assert tap.of(b, "SlaBreached", "restore")[0].body["retroactive"] is True
    assert tap.of(a, "EscalationRaised", "restore")[0].body["level"] == 0
    assert tap.of(b, "EscalationRaised", "escalation_deputy_gm")[0].body["audience"] == "deputy_gm"
    assert [s.body["subject"] for s in tap.of(a, "SlaMet", "acceptance")] == ["team-1"]
    assert {s.body["clock"] for s in tap.of(a, "SlaClockStarted")} >= {"acceptance", "contact", "progress", "restore"}
    assert not tap.of(a, "SlaWarning", "acceptance", subject="team-1")  # met: its timers were dropped
    assert not tap.duplicates(), describe(tap, tap.duplicates())


async def test_suspension_moves_the_deadline_and_the_breach_follows_it(infra, sla_settings, tap, http) -> None:
    c = f"T-C-{uid()}"
    async with running(sla_settings) as app:
        t0 = now()
        # restore and director due at t0+10; contact met at once, so only restore-family timers remain.
        await produce(infra.kafka_bootstrap, tickets_topic(sla_settings), opened(c, t0, reported=-110))
        await asyncio.sleep(2)
        suspended_at = now()
        await produce(
            infra.kafka_bootstrap,
            tickets_topic(sla_settings),
            TicketSuspended(
                ticket_id=c, occurred_at=suspended_at, reason="客户机房断电", consent_by="王伟", approved_by="sup-1"
            ),
        )
        await tap.wait_for(c, "SlaDeadlineMoved", "restore", reason="paused")
        await asyncio.sleep(4)
        resumed_at = now()
        await produce(
            infra.kafka_bootstrap, tickets_topic(sla_settings), TicketResumed(ticket_id=c, occurred_at=resumed_at)
        )
        moved = (await tap.wait_for(c, "SlaDeadlineMoved", "restore", reason="resumed"))[0]
        paused_for = resumed_at - suspended_at
        assert moved.body["new_deadline"] is not None

        async with http(app) as client:
            view = (await client.get(f"/v1/tickets/{c}/sla")).json()
            assert (await client.get("/v1/tickets/T-nobody/sla")).status_code == 404
        restore = next(k for k in view["clocks"] if k["clock"] == "restore")
        assert view["policy_version"] == "2026.1-fast"
        assert restore["status"] == "running" and len(restore["not_counted"]) == 1
        moved_to = datetime.fromisoformat(moved.body["new_deadline"])
        assert abs(datetime.fromisoformat(restore["deadline"]) - moved_to) < timedelta(milliseconds=2)
        assert any("restore #1" in line for line in view["explanation"])

        breach = (await tap.wait_for(c, "SlaBreached", "restore", timeout=30))[0]
        director = (await tap.wait_for(c, "EscalationRaised", "escalation_director", timeout=5))[0]

    original = seconds(10, t0)
    assert abs(breach.occurred_at - (original + paused_for)) < timedelta(milliseconds=2)
    assert abs(director.occurred_at - (original + paused_for)) < timedelta(
        milliseconds=2
    )  # escalation pauses with the restore clock
    assert 0 <= breach.lateness < 5.0
    assert len(tap.of(c, "SlaBreached", "restore")) == 1


async def test_after_downtime_an_overdue_timer_fires_once_marked_late(infra, sla_settings, tap) -> None:
    d = f"T-D-{uid()}"
    t0 = now()
    async with running(sla_settings) as app:
        await produce(
            infra.kafka_bootstrap,
            tickets_topic(sla_settings),
            opened(d, t0),  # restore etc. far away
            dispatched(d, t0),  # acceptance warning at t0+8, breach at t0+10
            CustomerContacted(ticket_id=d, occurred_at=t0, contacted_at=t0, method="phone"),
        )
        await tap.wait_for(d, "SlaMet", "contact")
        scheduler = app.state.runtime.broker.context.get("sla_watch").scheduler
        assert scheduler.pending >= 2
    await asyncio.sleep(max(0.0, (seconds(12, t0) - now()).total_seconds()))  # both due while nobody runs

    async with running(sla_settings):
        breach = (await tap.wait_for(d, "SlaBreached", "acceptance", timeout=15))[0]
    async with running(sla_settings):  # and once more: nothing fires twice
        await asyncio.sleep(2)

    assert breach.body["late_by_seconds"] >= 1.5
    assert abs(breach.occurred_at - seconds(10, t0)) < timedelta(milliseconds=2)  # the database keeps ms
    assert len(tap.of(d, "SlaBreached", "acceptance")) == 1
    assert not tap.of(d, "SlaWarning", "acceptance")  # its deadline had passed: the breach says it all
    assert not tap.duplicates(), describe(tap, tap.duplicates())
    assert timedelta(0) < breach.received - seconds(10, t0)
