"""Read models rebuild from the log (huying.rebuild), on the real broker and database: a database wiped or restored
from an older backup replays the CRM topic from the beginning under a new epoch and says ready once caught up;
replicas sharing a database share its epoch; `python -m huying.rebuild` empties the replica and the next start
replays it to the same documents; a compacted CRM topic keeps every line of a customer at its latest revision."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from huying.crm_replica import CRM_EVENT, apply_crm_events, crm_model
from huying.events import CustomerUpserted, ServiceLineUpserted
from huying.rebuild import (
    LOG_POSITIONS,
    READ_MODELS,
    committed_offsets,
    end_offsets,
    open_epoch,
    read_models_ready,
    replica_of,
)
from huying.topics import Topics
from notify.app import create
from notify.settings import NotifySettings
from tests.support.kafka import produce, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CUSTOMERS, LINES = 12, 24


def customer(n: int, revision: int = 1) -> CustomerUpserted:
    tier = ["gold", "silver", "bronze"][revision % 3]
    return CustomerUpserted(
        customer_id=f"C-{n:03d}", name=f"客户{n}", tier=tier, city="广州", revision=revision, occurred_at=T0
    )


def line(n: int, customer_n: int, revision: int = 1) -> ServiceLineUpserted:
    return ServiceLineUpserted(
        service_line_id=f"L-{n:03d}", customer_id=f"C-{customer_n:03d}", product="互联网专线", category="access",
        scope="intra_city", cities=["广州"], revision=revision, occurred_at=T0,
    )  # fmt: skip


def crm_records() -> list[Any]:
    return [customer(n) for n in range(CUSTOMERS)] + [line(n, n % CUSTOMERS) for n in range(LINES)]


@asynccontextmanager
async def running(settings: NotifySettings) -> AsyncIterator[Any]:
    app = create(settings)
    async with app.router.lifespan_context(app):
        yield app.state.runtime


async def replica(db) -> dict[str, dict[str, Any]]:
    return {f"{c}:{d['_id']}": d for c in ("customers", "service_lines") async for d in db[c].find()}


async def full_replica(runtime) -> dict[str, dict[str, Any]] | None:
    """The whole replica once it holds every record and says it caught up (else None, to be polled)."""
    docs = await replica(runtime.db)
    ready = await read_models_ready(runtime)
    return docs if len(docs) == CUSTOMERS + LINES and ready == {"crm_caught_up": True} else None


async def committed_to_the_end(bootstrap: str, group: str, topic: str) -> bool:
    return await committed_offsets(bootstrap, group, [topic]) == await end_offsets(bootstrap, [topic])


async def test_a_wiped_database_replays_the_crm_topic_its_group_had_long_passed(infra, settings_for, mongo) -> None:
    settings = settings_for(NotifySettings)
    topic = Topics(settings.topic_prefix).crm.name
    await produce(infra.kafka_bootstrap, topic, *crm_records())
    async with running(settings) as runtime:
        before = await wait_until(lambda: full_replica(runtime))
        first = replica_of(runtime, "crm").group
        await wait_until(lambda: committed_to_the_end(infra.kafka_bootstrap, first, topic))
    # every CRM record is older than the group's committed offsets: resuming there would read nothing
    await mongo.drop_database(settings.database_name)

    async with running(settings) as runtime:
        second = replica_of(runtime, "crm").group
        after = await wait_until(lambda: full_replica(runtime))
        state = await runtime.db[READ_MODELS].find_one({"_id": "crm"})
    assert second != first and second.startswith(f"{settings.group_id}.crm.")
    assert state["group_id"] == second and "wiped" in state["reason"]
    assert after == before  # the same documents: every field comes from the CRM events


async def test_a_database_restored_from_an_older_backup_replays_and_a_current_one_resumes(infra, settings_for) -> None:
    settings = settings_for(NotifySettings)
    topic = Topics(settings.topic_prefix).crm.name
    await produce(infra.kafka_bootstrap, topic, *crm_records())
    async with running(settings) as runtime:
        await wait_until(lambda: full_replica(runtime))
        first = replica_of(runtime, "crm").group
        await wait_until(lambda: committed_to_the_end(infra.kafka_bootstrap, first, topic))
    async with running(settings) as runtime:  # nothing lost: the same epoch, resumed at the committed offsets
        assert replica_of(runtime, "crm").group == first
        await wait_until(lambda: full_replica(runtime))
        # as a backup taken early would have it: a few records, positions far behind the committed offsets
        await runtime.db.service_lines.delete_many({"_id": {"$gte": "L-010"}})
        await runtime.db[LOG_POSITIONS].update_many({}, {"$set": {"next_offset": 1}})

    async with running(settings) as runtime:
        assert replica_of(runtime, "crm").group != first
        await wait_until(lambda: full_replica(runtime))
        state = await runtime.db[READ_MODELS].find_one({"_id": "crm"})
    assert "older than the committed offsets" in state["reason"] and first in state["reason"]


async def test_replicas_starting_at_once_on_one_database_share_one_epoch(infra, settings_for, mongo) -> None:
    settings = settings_for(NotifySettings)
    db = mongo[settings.database_name]
    model = crm_model(settings, Topics(settings.topic_prefix))
    opened = await asyncio.gather(*(open_epoch(db, model, bootstrap=infra.kafka_bootstrap, now=T0) for _ in range(5)))
    assert len({epoch for epoch, _ in opened}) == 1
    assert sum(1 for _, reason in opened if reason) == 1  # one started it, the others joined it
    assert await db[READ_MODELS].count_documents({}) == 1


async def rebuild_cli(settings: NotifySettings, *args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "HUYING_MONGODB_URI": settings.mongodb_uri.get_secret_value(),
        "HUYING_TOPIC_PREFIX": settings.topic_prefix,
        "HUYING_NOTIFY_MONGODB_DATABASE": settings.database_name,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "huying.rebuild", *args, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_the_rebuild_command_empties_the_replica_and_the_next_start_replays_it_identically(
    infra, settings_for, mongo
) -> None:
    settings = settings_for(NotifySettings)
    topic = Topics(settings.topic_prefix).crm.name
    await produce(infra.kafka_bootstrap, topic, *crm_records(), customer(0, revision=2), line(3, 3, revision=4))
    db = mongo[settings.database_name]
    async with running(settings) as runtime:
        before = await wait_until(lambda: full_replica(runtime))
        first = replica_of(runtime, "crm").group
        code, dry = await rebuild_cli(settings, "--service", "notify", "crm", "--dry-run")
        assert code == 0 and "would rebuild notify crm" in dry and await replica(db) == before
        code, out = await rebuild_cli(settings, "--service", "notify", "crm")  # while it runs: applies at restart
        assert code == 0 and f"customers ({CUSTOMERS}), service_lines ({LINES})" in out
        assert await replica(db) == {} and await db[LOG_POSITIONS].count_documents({}) == 0

    async with running(settings) as runtime:
        assert replica_of(runtime, "crm").group != first
        after = await wait_until(lambda: full_replica(runtime))
    assert after == before  # bookkeeping included: source_event_id, source_time and crm_order come from the events
    assert after["customers:C-000"]["revision"] == 2 and after["service_lines:L-003"]["revision"] == 4


# ---- compaction ----------------------------------------------------------------------------------------------------

AGGRESSIVE = {  # the registry's topic waits a day before compacting (min.compaction.lag.ms): this one at once
    "cleanup.policy": "compact",
    "segment.ms": "200",
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "0",
    "retention.ms": "-1",
}


async def read_all(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        ends = await end_offsets(bootstrap, [topic])
        records: list[Any] = []
        seen: dict[tuple[str, int], int] = {}
        while any(seen.get(p, 0) < end for p, end in ends.items()):
            for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                records += batch
                seen[(tp.topic, tp.partition)] = await consumer.position(tp)
        return records
    finally:
        await consumer.stop()


async def test_compaction_keeps_every_line_of_a_customer_at_its_latest_revision(infra, names, mongo) -> None:
    topic = f"{names.topic_prefix}compacted.crm"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs=AGGRESSIVE)])
    finally:
        await admin.close()
    history = [customer(1, 1), *(line(n, 1, 1) for n in range(5)), customer(1, 2)]
    history += [line(n, 1, 2) for n in range(0, 5, 2)] + [customer(1, 3), line(4, 1, 3)]
    await produce(infra.kafka_bootstrap, topic, *history)
    latest = {e.partition_key(): e for e in history}  # customer:C-001 → rev 3, line:L-000..L-004 → 2, 1, 2, 1, 3
    assert len(latest) == 6

    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()

    async def compacted() -> list[Any] | None:
        # an append after segment.ms rolls the segment, so the records above become cleanable (one key, kept once)
        await producer.send_and_wait(topic, b"{}", key=b"tick")
        records = [r for r in await read_all(infra.kafka_bootstrap, topic) if r.key != b"tick"]
        return records if len(records) == len(latest) else None

    try:
        records = await wait_until(compacted, timeout=90, interval=1.0)  # the cleaner wakes every 15 s by default
    finally:
        await producer.stop()
    assert {r.key: CRM_EVENT.validate_json(r.value) for r in records} == latest

    db = mongo[names.database("compacted")]  # and a replica built from what compaction left is complete
    await apply_crm_events(db, [CRM_EVENT.validate_json(r.value) for r in records])
    lines = {d["_id"]: d["revision"] async for d in db.service_lines.find({"customer_id": "C-001"})}
    assert lines == {"L-000": 2, "L-001": 1, "L-002": 2, "L-003": 1, "L-004": 3}
    assert (await db.customers.find_one({"_id": "C-001"}))["revision"] == 3
    await mongo.drop_database(db.name)
