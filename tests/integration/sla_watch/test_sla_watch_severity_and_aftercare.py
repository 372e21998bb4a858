"""The severe mark and the duties after restoration over real Kafka and the database, on the fast policy (1 policy
minute = 1 s): an important customer's full outage is marked severe by a timer 30 minutes in (seed 003); a missed
internal report announces its remediation item at the miss (seed 000 rule 10); a closed ticket nobody followed up
reminds customer service (seed 001 2)-(10)); a third party's fault is not counted against the restore limit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from huying.events import FaultReportSubmitted, SatisfactionRecorded, TicketClosed, TicketResolved
from sla_watch.settings import SlaWatchSettings
from tests.integration.sla_watch.conftest import running, sla_topic, tickets_topic
from tests.integration.sla_watch.support import SlaTap, create_topics, now, opened, seconds, uid
from tests.support.kafka import produce

pytestmark = pytest.mark.integration
AFTERCARE_POLICY = Path(__file__).with_name("policy-aftercare.yaml")


def at(body: dict, field: str) -> datetime:
    return datetime.fromisoformat(body[field])


async def test_an_important_customers_full_outage_is_marked_severe_at_30_minutes(infra, sla_settings, tap) -> None:
    severe, restored, ordinary = (f"T-SEV-{uid()}" for _ in range(3))
    async with running(sla_settings):
        t0 = now()
        important = {"full_outage": True, "customer_grade": "city_diamond", "tier": "bronze"}
        await produce(
            infra.kafka_bootstrap,
            tickets_topic(sla_settings),
            opened(severe, t0, reported=-2, **important),  # the outage began 2 policy minutes before the ticket
            opened(restored, t0, reported=-4, **important),  # its mark would pass 2 s before the first one's
            TicketResolved(ticket_id=restored, occurred_at=seconds(10, t0), cause="跳纤", restored_at=seconds(10, t0)),
            opened(ordinary, t0, reported=-4, full_outage=True, customer_grade="ordinary", tier="bronze"),
        )
        (mark,) = await tap.wait_for(severe, "TicketSeverityChanged", "severity", timeout=60)
        await tap.wait_for(restored, "SlaMet", "restore", timeout=30)

    assert mark.body["severity"] == "severe" and "30分钟" in mark.body["reason"]
    assert at(mark.body, "outage_started_at") == seconds(-2, t0)
    assert abs((at(mark.body, "marked_at") - seconds(28, t0)).total_seconds()) < 0.01  # 30 min from the outage
    # the others' marks would have fired 2 s before this one: restored before it, or not important, they have none
    assert tap.of(restored, "TicketSeverityChanged") == [] and tap.of(ordinary, "TicketSeverityChanged") == []
    assert tap.of(severe, "SlaClockStarted", "severity") == []  # a mark, not a commitment
    assert tap.duplicates() == {}


@pytest.fixture
async def aftercare_settings(infra, settings_for) -> SlaWatchSettings:
    settings = settings_for(SlaWatchSettings, policy_override=AFTERCARE_POLICY)
    await create_topics(infra.kafka_bootstrap, tickets_topic(settings), sla_topic(settings))
    return settings


async def test_a_missed_internal_report_owes_a_remediation_and_an_unfollowed_ticket_reminds(
    infra, aftercare_settings
) -> None:
    missed, on_time = f"T-IR-{uid()}", f"T-IR-{uid()}"
    settings = aftercare_settings
    async with SlaTap(infra.kafka_bootstrap, sla_topic(settings)) as tap, running(settings):
        t0 = now()

        def resolved(ticket: str) -> TicketResolved:
            return TicketResolved(
                ticket_id=ticket,
                occurred_at=seconds(1, t0),
                cause="光缆被施工挖断",
                cause_category="third_party",
                restored_at=seconds(1, t0),
            )

        await produce(
            infra.kafka_bootstrap,
            tickets_topic(settings),
            opened(missed, t0, tier="standard"),
            resolved(missed),
            TicketClosed(ticket_id=missed, occurred_at=seconds(2, t0)),
            opened(on_time, t0, tier="standard"),
            resolved(on_time),
            FaultReportSubmitted(ticket_id=on_time, occurred_at=seconds(3, t0), document_ref="FR-1", kind="internal"),
            TicketClosed(ticket_id=on_time, occurred_at=seconds(3, t0)),
            SatisfactionRecorded(
                ticket_id=on_time, occurred_at=seconds(4, t0), satisfied=True, called_by="cs-01", method="phone"
            ),
        )
        (breach,) = await tap.wait_for(missed, "SlaBreached", "remediation", timeout=60)
        (reminder,) = await tap.wait_for(missed, "SlaBreached", "follow_up", timeout=30)
        await tap.wait_for(on_time, "SlaMet", "follow_up", timeout=30)

    (report_missed,) = tap.of(missed, "SlaBreached", "internal_report")
    (announced,) = tap.of(missed, "SlaClockStarted", "remediation")
    assert at(announced.body, "started_at") == at(report_missed.body, "deadline")  # announced at the miss
    assert at(breach.body, "deadline") == at(announced.body, "deadline")
    assert abs((at(breach.body, "deadline") - at(announced.body, "started_at")).total_seconds() - 5) < 0.01
    assert abs((at(reminder.body, "deadline") - seconds(2 + 8, t0)).total_seconds()) < 0.01
    assert len(tap.of(on_time, "SlaMet", "internal_report")) == 1
    assert tap.of(on_time, None, "remediation") == []  # an on-time report owes nothing, announced nothing
    assert tap.of(on_time, "SlaBreached", "follow_up") == []
    (restore,) = tap.of(missed, "SlaMet", "restore")
    assert restore.body["counted"] is False  # a third party's cable cut: not counted against the restore limit
    assert tap.duplicates() == {}
