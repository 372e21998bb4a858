"""The outbox relay over the real database and real Kafka: state and events written together are published,
in order, and removed; what was appended meanwhile stays pending."""

from __future__ import annotations

import pytest
from faststream.kafka import KafkaBroker

from huying.events import TicketAccepted, TicketOpened
from huying.mongo import make_mongo_client
from huying.outbox import OutboxRelay, document_with_outbox, outbox_entry, with_outbox
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


async def test_an_entry_kafka_refuses_holds_up_only_its_own_aggregate(infra, names, mongo) -> None:
    topic = f"{names.topic_prefix}huying.tickets.v1"
    tickets = mongo[names.database("outbox3")].tickets
    too_large = {**outbox_entry(topic, opened("T-big")), "value": b"x" * (2 * 1024 * 1024)}
    await tickets.insert_one(document_with_outbox({"_id": "T-big"}, [too_large]))
    await tickets.insert_one(document_with_outbox({"_id": "T-ok"}, [outbox_entry(topic, opened("T-ok"))]))
    broker = KafkaBroker(infra.kafka_bootstrap)
    await broker.connect()
    try:
        assert await OutboxRelay(broker, [tickets]).relay_once() == 1
        pending = [doc["_id"] async for doc in tickets.find({"outbox_pending": True})]
    finally:
        await broker.stop()
        await mongo.drop_database(names.database("outbox3"))
    assert pending == ["T-big"]
    assert [r.key for r in await consume(infra.kafka_bootstrap, topic, count=1)] == [b"T-ok"]


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
