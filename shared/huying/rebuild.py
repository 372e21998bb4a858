"""Read models that rebuild from the log: the database says which log it reflects, and a database that does not
reflect its consumer group's committed offsets is replayed from the beginning under a new group.

Why: consumer offsets live in Kafka, the state they stand for in the service's database. A database wiped, restored
from an old backup, or newly pointed at would resume at the group's committed offset and silently lack everything
before it. So each read model (e.g. the CRM replica, `huying.crm_replica`) consumes under a group named by an
**epoch** that the database holds:

- `read_models` — one document per read model: `{_id: "crm", epoch, group_base, group_id, topics, collections,
  started_at, reason}`. The epoch is time-stamped and random (`20260302T010000Z-3fa2c1`), never a counter, so a wiped
  database can never land on an old group again.
- `log_positions` — per epoch, topic and partition, the next offset the database reflects (`$max`, written after a
  batch is applied and before its offset is committed, so at any time committed ≤ recorded).

At start (`start_read_models`, before the broker starts), a database is **stale** when it has no `read_models`
document (empty, wiped, new), when the group's committed offsets are beyond the positions it recorded (restored from
an older backup), or when its collections are empty although it recorded positions (dropped by hand). A stale
database gets a new epoch: a new group, without committed offsets, reads the topic from the earliest offset (the CRM
topic is compacted and kept forever). Replicas of a service share its database and hence its epoch (the first to
start writes it, atomically; the others read it). The abandoned group's offsets expire by the broker's
`offsets.retention.minutes` (7 days by default). Only read models are replayed this way: input topics (intake's
reports, dispatch's ticket inputs) keep their service group and are never re-read.

Readiness: at start each read model notes the end offsets of its topics; `read_models_ready` says False until the
database's positions (of every replica together) reach them, so `/readyz` is 503 while a replay runs.

    python -m huying.rebuild --service dispatch crm [--dry-run]      (huying.rebuild_command)

empties the read model's collections and starts a new epoch: the service replays the topic at its next start (a
running service goes on under the old epoch until restarted; the replica's guarded upserts make either order safe).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

READ_MODELS = "read_models"
LOG_POSITIONS = "log_positions"
Partition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class ReadModel:
    """A service's state that is only a projection of topics, so it can be dropped and rebuilt from them."""

    name: str
    topics: tuple[str, ...]
    collections: tuple[str, ...]
    group_base: str  # the consumer group without its epoch
    # False: no positions recorded per batch (a hot path of single records: sla-watch's tickets, whose Replica notes
    # only each partition's arrival at its target), so a restored-older database is not detected.
    records_positions: bool = True

    def group(self, epoch: str) -> str:
        return f"{self.group_base}.{epoch}"


def new_epoch(now: datetime) -> str:
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def staleness(
    doc: Mapping[str, Any] | None,
    *,
    committed: Mapping[Partition, int],
    recorded: Mapping[Partition, int],
    model_empty: bool,
) -> str | None:
    """Why the database does not reflect its group's offsets (so the read model must be replayed), or None."""
    if doc is None:
        return "the database does not say which log it reflects (empty, wiped or new)"
    behind = sorted(p for p, offset in committed.items() if offset > recorded.get(p, 0))
    if behind:
        where = ", ".join(f"{t}[{p}]" for t, p in behind[:3]) + (" …" if len(behind) > 3 else "")
        return f"the database is older than the committed offsets of {doc.get('group_id')} ({where}): a backup?"
    if model_empty and any(recorded.values()):
        return "the read model is empty although the database recorded applied records"
    return None


def caught_up(target: Mapping[Partition, int], recorded: Mapping[Partition, int]) -> bool:
    """Every partition that had records at start is applied up to the end offset it had then."""
    return all(recorded.get(p, 0) >= end for p, end in target.items())


def positions_of(records: Iterable[Any]) -> dict[Partition, int]:
    """The next offset after each partition's last record among these (aiokafka ConsumerRecords)."""
    out: dict[Partition, int] = {}
    for record in records:
        key = (record.topic, record.partition)
        out[key] = max(out.get(key, 0), record.offset + 1)
    return out


def _position_id(model: str, epoch: str, topic: str, partition: int) -> str:
    return f"{model}|{epoch}|{topic}|{partition}"


async def record_positions(db: AsyncDatabase, model: str, epoch: str, positions: Mapping[Partition, int]) -> None:
    """Note that the database now reflects these offsets (only ever raised: a redelivered batch lowers nothing)."""
    if not positions:
        return
    updates = [
        UpdateOne(
            {"_id": _position_id(model, epoch, topic, partition)},
            {"$max": {"next_offset": offset}, "$set": {"model": model, "epoch": epoch}},
            upsert=True,
        )
        for (topic, partition), offset in positions.items()
    ]
    for attempt in range(3):  # two replicas upserting one new partition: the loser's upsert is retried as an update
        try:
            await db[LOG_POSITIONS].bulk_write(updates, ordered=False)
            return
        except BulkWriteError as error:
            if attempt == 2 or any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                raise


async def recorded_positions(db: AsyncDatabase, model: str, epoch: str) -> dict[Partition, int]:
    found = db[LOG_POSITIONS].find({"model": model, "epoch": epoch})
    out = {}
    async for doc in found:
        _, _, topic, partition = doc["_id"].rsplit("|", 3)
        out[(topic, int(partition))] = doc["next_offset"]
    return out


async def committed_offsets(bootstrap: str, group: str, topics: Sequence[str]) -> dict[Partition, int]:
    """The group's committed offsets on these topics (none for a group that never committed)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="huying-rebuild")
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {
        (tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if tp.topic in topics and meta.offset >= 0
    }


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[Partition, int]:
    """Each partition's end offset now, for the partitions that hold records (end beyond the log's start)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = []
        for topic in topics:
            if not consumer.partitions_for_topic(topic):
                await consumer._client.force_metadata_update()  # aiokafka: no public call
            partitions += [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return {}
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): ends[tp] for tp in partitions if ends[tp] > starts[tp]}


async def _is_empty(db: AsyncDatabase, collections: Sequence[str]) -> bool:
    """From the collections' metadata (`count` without a filter: MongoDB answers it from the catalog), not a query:
    a `find_one({})` is a collection scan by the planner's rules, and SecantusDB fetches every match first."""
    for name in collections:
        if await db[name].estimated_document_count() > 0:
            return False
    return True


def _epoch_doc(model: ReadModel, epoch: str, now: datetime, reason: str) -> dict[str, Any]:
    return {
        "_id": model.name,
        "epoch": epoch,
        "group_base": model.group_base,
        "group_id": model.group(epoch),
        "topics": list(model.topics),
        "collections": list(model.collections),
        "started_at": now,
        "reason": reason,
    }


async def open_epoch(db: AsyncDatabase, model: ReadModel, *, bootstrap: str, now: datetime) -> tuple[str, str | None]:
    """The epoch this database reflects, starting a new one when it is stale; returns (epoch, why it is new)."""
    doc = await db[READ_MODELS].find_one({"_id": model.name})
    committed: dict[Partition, int] = {}
    recorded: dict[Partition, int] = {}
    if doc is not None:  # committed first, then recorded: both only grow, and committed ≤ recorded at any moment
        if model.records_positions:
            committed = await committed_offsets(bootstrap, doc["group_id"], model.topics)
        recorded = await recorded_positions(db, model.name, doc["epoch"])
    reason = staleness(doc, committed=committed, recorded=recorded, model_empty=await _is_empty(db, model.collections))
    if reason is None:
        assert doc is not None
        return doc["epoch"], None
    fresh = _epoch_doc(model, new_epoch(now), now, reason)
    if doc is None:
        try:
            await db[READ_MODELS].insert_one(fresh)
        except DuplicateKeyError:  # a replica sharing the database started first: its epoch is ours
            return (await db[READ_MODELS].find_one({"_id": model.name}))["epoch"], None
    else:
        done = await db[READ_MODELS].replace_one({"_id": model.name, "epoch": doc["epoch"]}, fresh)
        if done.matched_count == 0:
            return (await db[READ_MODELS].find_one({"_id": model.name}))["epoch"], None
    return fresh["epoch"], reason


async def rebuild(db: AsyncDatabase, model: ReadModel, *, now: datetime) -> tuple[str | None, str, dict[str, int]]:
    """Empty the read model's collections (their indexes stay) and start a new epoch; returns (old epoch, new
    epoch, documents removed per collection)."""
    doc = await db[READ_MODELS].find_one({"_id": model.name})
    removed = {name: (await db[name].delete_many({})).deleted_count for name in model.collections}
    await db[LOG_POSITIONS].delete_many({"model": model.name})
    fresh = _epoch_doc(model, new_epoch(now), now, "rebuild requested")
    await db[READ_MODELS].replace_one({"_id": model.name}, fresh, upsert=True)
    return (doc or {}).get("epoch"), fresh["epoch"], removed


@dataclass
class Replica:
    """One process's handle on a read model: bound to its subscriber by the router, started by the service."""

    model: ReadModel
    epoch: str | None = None  # None until started: the subscriber keeps `group_base` and nothing is recorded
    target: dict[Partition, int] = field(default_factory=dict)
    ready: bool = False

    @property
    def group(self) -> str:
        return self.model.group(self.epoch) if self.epoch else self.model.group_base

    async def start(self, db: AsyncDatabase, *, bootstrap: str, now: datetime) -> str | None:
        self.epoch, reason = await open_epoch(db, self.model, bootstrap=bootstrap, now=now)
        self.target = await end_offsets(bootstrap, self.model.topics)
        return reason

    async def applied(self, db: AsyncDatabase, records: Iterable[Any]) -> None:
        if self.epoch is not None:
            await record_positions(db, self.model.name, self.epoch, positions_of(records))

    async def caught_up(self, db: AsyncDatabase) -> bool:
        """Once True, stays True (a later lag is the consumer's ordinary work, not a replay)."""
        if not self.ready and self.epoch is not None:
            try:
                self.ready = caught_up(self.target, await recorded_positions(db, self.model.name, self.epoch))
            except PyMongoError:
                return False  # the database is away: `/readyz` says so in its own check
        return self.ready


REPLICA_ATTRIBUTE = "huying_read_model"
CONTEXT_KEY = "huying_read_models"


def bind(subscriber: Any, replica: Replica) -> None:
    """Mark a subscriber as feeding a read model, so `start_read_models` gives it the epoch's group."""
    setattr(subscriber, REPLICA_ATTRIBUTE, replica)


async def start_read_models(runtime: Any) -> list[Replica]:
    """Call in a service's setup (before the broker starts): open every bound read model's epoch, replaying it
    from the beginning under a new group when the database is stale, and note the end offsets to catch up to."""
    import logging

    log = logging.getLogger("huying.rebuild")
    started = []
    await runtime.db[LOG_POSITIONS].create_index([("model", 1), ("epoch", 1)])  # a model's positions, per epoch
    for subscriber in runtime.broker.subscribers:
        replica = getattr(subscriber, REPLICA_ATTRIBUTE, None)
        if replica is None:
            continue
        reason = await replica.start(runtime.db, bootstrap=runtime.settings.kafka_bootstrap, now=runtime.clock.now())
        subscriber.group_id = replica.group  # read by FastStream when the subscriber starts
        if reason:
            log.warning("%s: replaying %s from the beginning as %s: %s", replica.model.name, ", ".join(
                replica.model.topics), replica.group, reason)  # fmt: skip
        else:
            log.info("%s: database reflects %s", replica.model.name, replica.group)
        started.append(replica)
    runtime.broker.context.set_global(CONTEXT_KEY, started)
    return started


def replica_of(runtime: Any, name: str) -> Replica | None:
    """The started read model of that name (its `group` is the consumer group it reads under now)."""
    return next((r for r in runtime.broker.context.get(CONTEXT_KEY) or [] if r.model.name == name), None)


async def read_models_ready(runtime: Any) -> dict[str, bool]:
    """`/readyz` checks: `<model>_caught_up` for every started read model (a `ServiceSpec.readiness` hook)."""
    replicas = runtime.broker.context.get(CONTEXT_KEY) or []
    return {f"{r.model.name}_caught_up": await r.caught_up(runtime.db) for r in replicas}


if __name__ == "__main__":
    import sys

    from huying.rebuild_command import main

    sys.exit(main())
