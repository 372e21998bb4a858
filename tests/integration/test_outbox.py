"""The outbox relay over the real database and real Kafka: state and events written together are published,
in order, and removed; what was appended meanwhile stays pending; what Kafka refuses for good is quarantined,
never deleted unpublished, and can be republished."""

from __future__ import annotations

import pytest
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from huying.events import TicketAccepted, TicketOpened
from huying.failures import FailureMetrics
from huying.mongo import make_mongo_client
from huying.outbox import (
    QUARANTINE,
    OutboxRelay,
    document_with_outbox,
    outbox_entry,
    quarantine,
    republish_quarantined,
    with_outbox,
)
from huying.settings import ServiceSettings
from tests.support.kafka import consume
from tests.support.plans import recording, scans, shapes

pytestmark = pytest.mark.integration


def opened(ticket_id: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        source_system="cc",
        external_id=ticket_id,
        channel="hotline",
        tier="gold",
        scope="intra_city",
        category="access",
        reported_at="2026-03-02T01:15:00Z",
    )


async def test_relay_publishes_pending_events_in_order_and_clears_them(infra, names, mongo) -> None:
    topic = f"{names.topic_prefix}huying.tickets.v1"
    tickets = mongo[names.database("outbox")].tickets
    first, second = opened("T-1"), TicketAccepted(ticket_id="T-1", team="gz-access")
    await tickets.insert_one(document_with_outbox({"_id": "T-1", "state": "opened"}, [outbox_entry(topic, first)]))
    await tickets.update_one(
        {"_id": "T-1"}, with_outbox({"$set": {"state": "accepted"}}, [outbox_entry(topic, second)])
    )
    broker = KafkaBroker(infra.kafka_bootstrap, enable_idempotence=True)
    await broker.connect()
    try:
        relay = OutboxRelay(broker, [tickets])
        assert await relay.relay_once() == 2
        assert await relay.relay_once() == 0
    finally:
        await broker.stop()
        doc = await tickets.find_one({"_id": "T-1"})
        await mongo.drop_database(names.database("outbox"))

    assert (doc["state"], doc["outbox"], doc["outbox_pending"]) == ("accepted", [], False)
    records = await consume(infra.kafka_bootstrap, topic, count=2)
    assert [r.key for r in records] == [b"T-1", b"T-1"]
    assert [dict(r.headers)["event_id"].decode() for r in records] == [str(first.event_id), str(second.event_id)]


async def test_events_appended_while_relaying_stay_pending(infra, names, mongo) -> None:
    topic = f"{names.topic_prefix}huying.tickets.v1"
    tickets = mongo[names.database("outbox2")].tickets
    await tickets.insert_one(document_with_outbox({"_id": "T-2"}, [outbox_entry(topic, opened("T-2"))]))
    broker = KafkaBroker(infra.kafka_bootstrap)
    await broker.connect()
    try:
        relay = OutboxRelay(broker, [tickets])
        doc = await tickets.find_one({"_id": "T-2"})
        late = outbox_entry(topic, TicketAccepted(ticket_id="T-2", team="x"))
        await tickets.update_one({"_id": "T-2"}, with_outbox({}, [late]))  # a write racing the relay
        assert await relay._relay_document(tickets, doc) == 1
        after = await tickets.find_one({"_id": "T-2"})
        assert ([e["event_id"] for e in after["outbox"]], after["outbox_pending"]) == ([late["event_id"]], True)
        assert await relay.relay_once() == 1
        assert (await tickets.find_one({"_id": "T-2"}))["outbox_pending"] is False
    finally:
        await broker.stop()
        await mongo.drop_database(names.database("outbox2"))


async def test_an_entry_kafka_refuses_for_good_is_quarantined_counted_and_holds_up_nothing(infra, names, mongo) -> None:
    topic = f"{names.topic_prefix}huying.tickets.v1"
    db = mongo[names.database("outbox3")]
    too_large = {**outbox_entry(topic, opened("T-big")), "value": b"x" * (2 * 1024 * 1024)}
    after_it = outbox_entry(topic, TicketAccepted(ticket_id="T-big", team="gz-access"))
    await db.tickets.insert_one(document_with_outbox({"_id": "T-big"}, [too_large, after_it]))
    await db.tickets.insert_one(document_with_outbox({"_id": "T-ok"}, [outbox_entry(topic, opened("T-ok"))]))
    registry = CollectorRegistry()
    broker = KafkaBroker(infra.kafka_bootstrap)
    await broker.connect()
    try:
        relay = OutboxRelay(broker, [db.tickets], metrics=FailureMetrics(registry, "dispatch"))
        assert await relay.relay_once() == 2
        assert await relay.relay_once() == 0  # nothing left pending: the refused entry is not retried on every pass
        pending = [doc["_id"] async for doc in db.tickets.find({"outbox_pending": True})]
        kept = await db[QUARANTINE].find().to_list()
    finally:
        await broker.stop()
        await mongo.drop_database(db.name)
    assert pending == []
    [doc] = kept
    assert (doc["_id"], doc["source"], doc["entry"]["value"]) == (too_large["event_id"], "tickets", too_large["value"])
    assert "MessageSizeTooLarge" in doc["error"]
    labels = {"service": "dispatch", "collection": "tickets"}
    assert registry.get_sample_value("huying_outbox_quarantined_total", labels) == 1
    records = await consume(infra.kafka_bootstrap, topic, count=2)
    assert sorted(r.key for r in records) == [b"T-big", b"T-ok"]


async def test_quarantined_events_are_republished_and_leave_quarantine_once_kafka_acknowledges(
    infra, names, mongo
) -> None:
    topic = f"{names.topic_prefix}huying.tickets.v1"
    db = mongo[names.database("outbox5")]
    fine, too_large = (
        outbox_entry(topic, opened("T-q1")),
        {**outbox_entry(topic, opened("T-q2")), "value": b"x" * 2**21},
    )
    assert await quarantine(db, [(fine, "KafkaError()"), (too_large, "KafkaError()")], source="tickets") == 2
    assert await quarantine(db, [(fine, "KafkaError()")], source="tickets") == 0  # already kept: not again
    broker = KafkaBroker(infra.kafka_bootstrap, enable_idempotence=True)
    await broker.connect()
    try:
        dry = await republish_quarantined(broker, db, dry_run=True)
        assert sorted(r.outcome for r in dry) == ["would send", "would send"]
        assert await db[QUARANTINE].count_documents({}) == 2
        [sent] = await republish_quarantined(broker, db, event_ids=[fine["event_id"]])
        assert (sent.event_id, sent.topic, sent.outcome) == (fine["event_id"], topic, "sent")
        [failed] = await republish_quarantined(broker, db)
        left = await db[QUARANTINE].find().to_list()
    finally:
        await broker.stop()
        await mongo.drop_database(db.name)
    assert (failed.event_id, failed.outcome) == (too_large["event_id"], "failed")
    assert [d["_id"] for d in left] == [too_large["event_id"]] and "MessageSizeTooLarge" in left[0]["error"]
    [record] = await consume(infra.kafka_bootstrap, topic, count=1)
    assert (record.key, record.value) == (b"T-q1", fine["value"])


async def test_the_relay_finds_pending_documents_by_index_and_clears_them_by_key(infra, names, mongo) -> None:
    topic = f"{names.topic_prefix}huying.tickets.v1"
    database = names.database("outbox4")
    with recording() as recorder:
        client = make_mongo_client(ServiceSettings(mongodb_uri=infra.mongodb_uri))
        tickets = client[database].tickets
        await tickets.insert_many([{"_id": f"T-{n}", "outbox_pending": False} for n in range(200)])
        await tickets.insert_one(document_with_outbox({"_id": "T-p"}, [outbox_entry(topic, opened("T-p"))]))
        broker = KafkaBroker(infra.kafka_bootstrap, enable_idempotence=True)
        await broker.connect()
        relay = OutboxRelay(broker, [tickets])
        try:
            await relay.start()  # creates the index on outbox_pending
            await relay.stop()
            assert await relay.relay_once() == 1
        finally:
            await broker.stop()
            await client.close()
    assert shapes(recorder, database=database) == [
        "tickets.find({outbox_pending: ·})",
        "tickets.update({_id: ·, outbox: [{event_id: ·, headers: {event_id: ·, schema_version: ·, type: ·}, key: ·, "
        "topic: ·, value: ·}]})",
    ]
    assert await scans(mongo, recorder, database=database) == []
    await mongo.drop_database(database)
