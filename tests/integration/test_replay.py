"""`python -m huying.replay` over real Kafka and the real database: dead letters go back to their original topics
(all, or by consumer, offset and time; a cut one is refused with its reference), and quarantined outbox events are
republished and leave quarantine once Kafka has them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from dispatch.app import create
from dispatch.settings import DispatchSettings
from huying.dlq import DeadLetter
from huying.events import ReportLinked
from huying.outbox import QUARANTINE, outbox_entry, quarantine
from huying.replay import REPLAYED_FROM, run
from tests.support.kafka import consume, produce, wait_until
from tests.unit.dispatch.builders import T0, opened

pytestmark = pytest.mark.integration


async def replay(*argv: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    return await run(argv, out=lines.append), lines


@pytest.fixture
def environment(infra, monkeypatch) -> None:
    """The command reads its infrastructure from the environment, as the services do."""
    monkeypatch.setenv("HUYING_KAFKA_BOOTSTRAP", infra.kafka_bootstrap)
    monkeypatch.setenv("HUYING_MONGODB_URI", infra.mongodb_uri)


async def test_a_letter_whose_cause_is_fixed_is_replayed_and_a_cut_one_is_refused_with_its_reference(
    infra, settings_for, environment
) -> None:
    settings = settings_for(DispatchSettings)
    tickets = f"{settings.topic_prefix}huying.tickets.v1"
    linked = ReportLinked(
        ticket_id="T-R1", source_system="nms", external_id="NMS-R1", channel="monitoring",
        reported_at=T0 - timedelta(minutes=5), link="same_line", producer="intake",
    )  # fmt: skip
    oversize = json.dumps({"type": "ReportLinked", "ticket_id": 1, "padding": "x" * 900_000}).encode()
    app = create(settings)
    async with app.router.lifespan_context(app):
        db = app.state.runtime.db
        await produce(infra.kafka_bootstrap, tickets, linked)  # its ticket is not known yet: dead-lettered
        await produce(infra.kafka_bootstrap, tickets, oversize, key=b"T-R1")
        await consume(infra.kafka_bootstrap, f"{tickets}.dlq", count=2, timeout=60)
        await produce(infra.kafka_bootstrap, tickets, opened("T-R1"))
        await wait_until(lambda: db.tickets.find_one({"_id": "T-R1"}))

        code, dry = await replay("dlq", "--topic", tickets, "--consumer", settings.group_id, "--dry-run")
        assert code == 1 and dry[-1].startswith("dry run: would replay 1, refused 1")
        code, lines = await replay("dlq", "--topic", f"{tickets}.dlq", "--consumer", settings.group_id)
        assert code == 1 and lines[-1].startswith("replayed 1, refused 1 (not whole), skipped 0")
        [refused] = [line for line in lines if line.startswith("refused")]
        assert "value was cut" in refused and f"the original is {tickets}[" in refused
        assert str(len(oversize)) in refused

        doc = await wait_until(lambda: db.tickets.find_one({"_id": "T-R1", "linked_reports.0": {"$exists": True}}))
    assert [r["external_id"] for r in doc["linked_reports"]] == ["NMS-R1"]


def letter(topic: str, n: int, *, consumer: str = "g1", at: datetime = T0, cut: tuple[str, ...] = ()) -> bytes:
    return DeadLetter(
        original_topic=topic, partition=0, offset=n, key_b64="Sy0x", value_b64="eyJuIjog" + "MX0=", error="E",
        headers={"type": "X", REPLAYED_FROM: "old"}, consumer=consumer, failed_at=at, cut=list(cut),
    ).model_dump_json().encode()  # fmt: skip


async def test_letters_are_selected_by_consumer_offset_and_time_and_carry_where_they_were_replayed_from(
    infra, names, environment
) -> None:
    topic = f"{names.topic_prefix}huying.crm.v1"
    dlq = f"{topic}.dlq"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    try:
        for value in [
            letter(topic, 0),
            letter(topic, 1, consumer="g2"),
            letter(topic, 2, at=T0 + timedelta(days=1)),
            b"not a letter",
            letter(topic, 4, at=T0 + timedelta(days=1), cut=("value",)),
        ]:
            await producer.send_and_wait(dlq, value, partition=0)
    finally:
        await producer.stop()

    code, lines = await replay("dlq", "--topic", dlq, "--consumer", "g1", "--since", "2026-03-02T12:00:00Z")
    assert lines[-1] == "replayed 1, refused 1 (not whole), skipped 2 (not selected), unreadable 1"
    assert code == 1
    code, lines = await replay("dlq", "--topic", dlq, "--offset", "0:0", "--offset", "1")
    assert (code, lines[-1]) == (0, "replayed 2, refused 0 (not whole), skipped 2 (not selected), unreadable 1")

    records = await consume(infra.kafka_bootstrap, topic, count=3)
    assert [(r.key, r.value) for r in records] == [(b"K-1", b'{"n": 1}')] * 3
    assert [dict(r.headers)[REPLAYED_FROM].decode() for r in records] == [f"{dlq}:0:2", f"{dlq}:0:0", f"{dlq}:0:1"]
    assert all(dict(r.headers)["type"] == b"X" for r in records)


async def test_quarantined_outbox_events_are_republished_by_the_command(infra, names, mongo, environment) -> None:
    topic = f"{names.topic_prefix}huying.tickets.v1"
    database = names.database("intake")
    db = mongo[database]
    kept = [outbox_entry(topic, opened(f"T-O{n}")) for n in range(2)]
    await quarantine(db, [(entry, "MessageSizeTooLargeError()") for entry in kept], source="outbox")
    try:
        code, lines = await replay("outbox", "--service", "intake", "--database", database, "--dry-run")
        assert code == 0 and sorted(lines[:2]) == sorted(f"would send {e['event_id']} -> {topic}" for e in kept)
        code, lines = await replay(
            "outbox", "--service", "intake", "--database", database, "--event-id", kept[1]["event_id"]
        )
        assert code == 0 and lines == [
            f"sent {kept[1]['event_id']} -> {topic}", f"{database}: 1 quarantined event(s) selected, 1 republished"
        ]  # fmt: skip
        left = [doc["_id"] async for doc in db[QUARANTINE].find()]
    finally:
        await mongo.drop_database(database)
    assert left == [kept[0]["event_id"]]
    [record] = await consume(infra.kafka_bootstrap, topic, count=1)
    assert (record.key, record.value) == (b"T-O1", kept[1]["value"])
