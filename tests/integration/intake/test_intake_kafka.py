"""Systems that publish, end to end: reports on `huying.intake.v1`, alarms on `huying.alarms.v1` and CRM data on
`huying.crm.v1`, to `huying.tickets.v1`; poison messages to the dead-letter topics."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from huying.dlq import DeadLetter
from huying.events import AlarmCleared, AlarmMessage, AlarmRaised, ReportReceived, TicketOpened, TicketVerified
from huying.kafka import serialize
from huying.outbox import document_with_outbox, outbox_entry
from intake.store import ORDER
from tests.integration.intake.conftest import customer, line
from tests.support.kafka import consume, produce, wait_until

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "intake" / "examples"


def alarm(alarm_id: str, line_id: str | None, at, severity: str = "critical") -> AlarmRaised:
    return AlarmRaised(
        alarm_id=alarm_id,
        service_line_id=line_id,
        resource="GZ-OLT-1/PON1",
        city="广州",
        severity=severity,
        raised_at=at,
    )


def kafka_report(external_id: str, at, **kw) -> ReportReceived:
    return ReportReceived(
        channel="hotline", source_system="10086-cc", external_id=external_id, description="断", reported_at=at, **kw
    )


async def outcome(intake, key: str):
    return await wait_until(lambda: intake.intake.store.outcome(key), timeout=30)


async def test_the_documented_kafka_examples_open_a_green_channel_ticket_and_link_the_alarm(intake) -> None:
    await intake.seed(customer("C-01-0001", tier="gold"), line("L-01-0001-01", "C-01-0001"))
    report = ReportReceived.model_validate_json((EXAMPLES / "report-received.kafka.json").read_bytes())
    raised = TypeAdapter(AlarmMessage).validate_json((EXAMPLES / "alarm-raised.kafka.json").read_bytes())

    await produce(intake.bootstrap, intake.topic("intake"), report)
    opened = await outcome(intake, "am-app:GC-20260302-0042")
    await produce(intake.bootstrap, intake.topic("alarms"), raised)
    linked = await outcome(intake, "nms:NMS-20260302-778812")

    assert (opened.status, linked.status, linked.link) == ("opened", "linked", "same_line")
    assert linked.ticket_id == opened.ticket_id
    ticket, link = await intake.published("GC-20260302-0042") + await intake.published("NMS-20260302-778812")
    assert isinstance(ticket, TicketOpened)
    assert (ticket.channel, ticket.tier, ticket.full_outage, ticket.leadership_notice) == (
        "green_channel",
        "gold",
        True,
        True,
    )
    assert ticket.backfill_due == report.reported_at + timedelta(hours=24)
    # the alarm was raised before the call: the restore clock moves to the earlier time (sla-watch, ReportLinked)
    assert (link.ticket_id, link.channel, link.reported_at) == (ticket.ticket_id, "monitoring", raised.raised_at)


async def test_an_alarm_opens_the_ticket_and_reports_on_the_same_line_join_it(intake, t0) -> None:
    await intake.seed(customer("C-k1", tier="silver"), line("L-k1", "C-k1"))
    await produce(intake.bootstrap, intake.topic("alarms"), alarm("A-k1", "L-k1", t0))
    first = await outcome(intake, "nms:A-k1")
    await produce(
        intake.bootstrap,
        intake.topic("intake"),
        kafka_report("R-k1", t0 + timedelta(minutes=4), service_line_id="L-k1"),
    )
    second = await outcome(intake, "10086-cc:R-k1")

    assert (first.status, second.status, second.ticket_id) == ("opened", "linked", first.ticket_id)
    opened = (await intake.published("A-k1"))[0]
    assert (opened.channel, opened.reported_at, opened.alarm_at, opened.tier) == ("monitoring", t0, t0, "silver")
    assert opened.full_outage and opened.leadership_notice  # a critical alarm on a silver line: full outage


async def test_alarms_that_open_nothing_are_still_recorded(intake, t0) -> None:
    await intake.seed(customer("C-k2", tier="bronze"), line("L-k2", "C-k2"))
    await produce(
        intake.bootstrap,
        intake.topic("alarms"),
        alarm("A-k2-minor", "L-k2", t0, severity="minor"),
        alarm("A-k2-noline", None, t0),
        AlarmCleared(alarm_id="A-k2-minor", service_line_id="L-k2", resource="GZ-OLT-1/PON1", cleared_at=t0),
    )
    minor = await outcome(intake, "nms:A-k2-minor")
    noline = await outcome(intake, "nms:A-k2-noline")
    cleared = await outcome(intake, "nms:A-k2-minor:cleared")
    assert [o.status for o in (minor, noline, cleared)] == ["recorded"] * 3
    assert "minor" in minor.reason and "no service line" in noline.reason
    assert await intake.published("A-k2") == []


async def test_poison_reports_and_alarms_are_dead_lettered_and_the_partitions_move_on(intake, t0) -> None:
    bad_report = json.dumps({"type": "ReportReceived", "channel": "hotline", "external_id": "x"}).encode()
    bad_alarm = json.dumps({"type": "AlarmRaised", "alarm_id": "A", "severity": "apocalyptic"}).encode()
    await produce(intake.bootstrap, intake.topic("intake"), b"{not json", bad_report, key=b"10086-cc:x")
    good = [serialize(alarm(f"A-k3-{n}", "L-k3", t0 + timedelta(minutes=n))) for n in range(3)]
    # alarms are taken in batches: the poison one among good ones (and a redelivered copy) holds none of them up
    await produce(intake.bootstrap, intake.topic("alarms"), good[0], bad_alarm, good[1], good[0], good[2], key=b"L-k3")
    await produce(intake.bootstrap, intake.topic("intake"), kafka_report("R-k3", t0), key=b"10086-cc:x")
    await outcome(intake, "10086-cc:R-k3")
    alarms = [await outcome(intake, f"nms:A-k3-{n}") for n in range(3)]
    assert [a.status for a in alarms] == ["opened", "linked", "linked"]
    assert {a.ticket_id for a in alarms} == {alarms[0].ticket_id}

    reports_dlq = [
        DeadLetter.model_validate_json(r.value)
        for r in await consume(intake.bootstrap, f"{intake.topic('intake')}.dlq", count=2)
    ]
    [alarms_dlq] = [
        DeadLetter.model_validate_json(r.value)
        for r in await consume(intake.bootstrap, f"{intake.topic('alarms')}.dlq", count=1)
    ]
    assert [d.original_value() for d in reports_dlq] == [b"{not json", bad_report]
    assert "source_system" in reports_dlq[1].error and "reported_at" in reports_dlq[1].error
    assert "apocalyptic" in alarms_dlq.error and alarms_dlq.original_topic == intake.topic("alarms")


async def test_an_unverified_ticket_is_upgraded_when_its_crm_data_arrives(intake, t0) -> None:
    await produce(
        intake.bootstrap, intake.topic("intake"), kafka_report("R-k4", t0, customer_id="C-k4", service_line_id="L-k4")
    )
    opened = await outcome(intake, "10086-cc:R-k4")
    assert opened.verified is False

    await produce(intake.bootstrap, intake.topic("crm"), customer("C-k4", tier="gold", city="佛山"))
    await wait_until(lambda: intake.runtime.db.customers.find_one({"_id": "C-k4"}))
    assert [e.type for e in await intake.published("R-k4")] == ["TicketOpened"]  # the line is still unknown
    await produce(intake.bootstrap, intake.topic("crm"), line("L-k4", "C-k4", category="overlay", cities=("佛山",)))

    async def verified():
        return [e for e in await intake.published("R-k4") if isinstance(e, TicketVerified)]

    [upgrade] = await wait_until(verified, timeout=30)
    assert upgrade.ticket_id == opened.ticket_id
    assert (upgrade.tier, upgrade.previous_tier, upgrade.category, upgrade.city) == (
        "gold",
        "standard",
        "overlay",
        "佛山",
    )


async def test_a_report_or_alarm_from_the_future_is_dead_lettered_with_the_reason(intake) -> None:
    ahead = intake.runtime.clock.now() + timedelta(hours=3)
    report_value, alarm_value = serialize(kafka_report("R-k5", ahead)), serialize(alarm("A-k5", "L-k5", ahead))
    await produce(intake.bootstrap, intake.topic("intake"), report_value, key=b"10086-cc:R-k5")
    await produce(intake.bootstrap, intake.topic("alarms"), alarm_value, key=b"L-k5")

    async def letter(family: str, value: bytes) -> DeadLetter | None:
        """This test's letter among whatever else the topic's dead letters hold (other tests share the topics)."""
        records = await consume(intake.bootstrap, f"{intake.topic(family)}.dlq", count=1, timeout=5)
        letters = [DeadLetter.model_validate_json(r.value) for r in records]
        return next((d for d in letters if d.original_value() == value), None)

    async def both() -> tuple[DeadLetter, DeadLetter] | None:
        found = await letter("intake", report_value), await letter("alarms", alarm_value)
        return found if all(found) else None

    report_letter, alarm_letter = await wait_until(both, timeout=60, interval=0.5)
    assert "reported_at" in report_letter.error and "ahead of intake's clock" in report_letter.error
    assert "raised_at" in alarm_letter.error and "ahead of intake's clock" in alarm_letter.error
    assert await intake.runtime.db.reports.find_one({"_id": "10086-cc:R-k5"}) is None  # nothing was recorded


async def test_an_event_kafka_refuses_for_good_is_quarantined_not_deleted_and_holds_nothing_up(intake, t0) -> None:
    store = intake.intake.store
    topic = intake.topic("tickets")
    too_large = {**outbox_entry(topic, kafka_report("R-k6", t0)), "value": b"x" * (2 * 1024 * 1024)}
    await intake.runtime.db.outbox.insert_one(
        document_with_outbox({"_id": "big", ORDER: store.sequence.next(), "created_at": t0}, [too_large])
    )
    await produce(intake.bootstrap, intake.topic("intake"), kafka_report("R-k7", t0))  # an ordinary report after it
    await outcome(intake, "10086-cc:R-k7")
    await wait_until(lambda: intake.published("R-k7"))  # published: the refused one did not hold it up
    kept = await wait_until(lambda: intake.runtime.db.outbox_quarantine.find_one({"_id": too_large["event_id"]}))
    assert kept["entry"]["value"] == too_large["value"] and "MessageSizeTooLarge" in kept["error"]
    assert kept["source"] == "outbox"  # the shared quarantine (huying.outbox), counted on intake's registry
    labels = {"service": "intake", "collection": "outbox"}
    assert intake.runtime.metrics.get_sample_value("huying_outbox_quarantined_total", labels) == 1
    assert await intake.runtime.db.outbox.find_one({"_id": "big"}) is None
