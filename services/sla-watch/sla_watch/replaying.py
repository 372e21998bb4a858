"""sla-watch's ticket state as a read model of `huying.tickets.v1` (huying.rebuild): a database that does not say
which log it reflects (empty, wiped, newly pointed at) or whose collections were emptied after a replay gets a new
epoch, and the ticket subscriber reads the topic from the beginning as `<group>.<epoch>` (replicas sharing the
database share the epoch, so they still split the partitions in one group).

No positions per event: sla-watch handles ticket events one at a time, and a `log_positions` write per event would
add a round trip to the five or so each already costs (not measured). Instead the epoch's **target** (the end offsets
when it was first started, kept in its `read_models` document) is shared by every start of the epoch, and the
first record of a partition that reaches it is noted once in `log_positions` before its offset is committed — so a
replica that takes the partition over later and resumes beyond the target finds the note. Not detected therefore:
a database restored from a backup older than the group's committed offsets (it resumes there and lacks what came
between; `python -m huying.rebuild --service sla-watch tickets` with sla-watch stopped repairs it).

While an owned partition is short of its target, the Watch holds firing (a ticket opened three days ago and
resolved two days ago would breach between its two replayed events); `/readyz` has `tickets_caught_up`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from huying.rebuild import (
    READ_MODELS,
    Partition,
    ReadModel,
    Replica,
    end_offsets,
    open_epoch,
    record_positions,
    recorded_positions,
)
from huying.topics import Topics
from sla_watch import store

log = logging.getLogger("sla_watch.replaying")
COLLECTIONS = ("clocks", "timers", store.FAULTS, store.QUALITY_SENT)


def tickets_model(settings: Any, topics: Topics) -> ReadModel:
    """The ticket consumer group is the service's own, plus the epoch."""
    return ReadModel("tickets", (topics.tickets.name,), COLLECTIONS, settings.group_id, records_positions=False)


@dataclass
class TicketReplica(Replica):
    """A Replica whose positions are the epoch's target and, per partition, one note that it was reached."""

    marked: set[Partition] = field(default_factory=set)

    async def start(self, db: AsyncDatabase, *, bootstrap: str, now: datetime) -> str | None:
        ends = await end_offsets(bootstrap, self.model.topics)
        self.epoch, reason = await open_epoch(db, self.model, bootstrap=bootstrap, now=now)
        self.target = await epoch_target(db, self.model, self.epoch, ends)
        await self.refresh(db)
        return reason

    def replayed(self, topic: str, partition: int) -> bool:
        """The partition had nothing to replay, or its replay reached the target (here or on another replica)."""
        return self.epoch is None or (topic, partition) not in self.target or (topic, partition) in self.marked

    async def reached(self, db: AsyncDatabase, topic: str, partition: int, next_offset: int) -> bool:
        """Every record before `next_offset` is applied: the first time that reaches the target, note it (one
        write per partition and epoch). Returns `replayed`."""
        if self.replayed(topic, partition):
            return True
        if next_offset < self.target[(topic, partition)]:
            return False
        assert self.epoch is not None
        await record_positions(db, self.model.name, self.epoch, {(topic, partition): next_offset})
        self.marked.add((topic, partition))
        return True

    async def refresh(self, db: AsyncDatabase) -> None:
        """The partitions any replica noted as replayed (before a takeover's load)."""
        if self.epoch is not None:
            recorded = await recorded_positions(db, self.model.name, self.epoch)
            self.marked |= {p for p, end in self.target.items() if recorded.get(p, 0) >= end}


def _target_data(target: Mapping[Partition, int]) -> list[dict[str, Any]]:
    return [{"topic": t, "partition": p, "offset": o} for (t, p), o in sorted(target.items())]


async def epoch_target(
    db: AsyncDatabase, model: ReadModel, epoch: str, ends: Mapping[Partition, int]
) -> dict[Partition, int]:
    """The end offsets the epoch's replay must reach: `ends`, unless a start of the same epoch noted its own first
    (a later restart must not move the target: a partition at its end would never deliver the record reaching it)."""
    await db[READ_MODELS].update_one(
        {"_id": model.name, "epoch": epoch, "target": {"$exists": False}}, {"$set": {"target": _target_data(ends)}}
    )
    doc = await db[READ_MODELS].find_one({"_id": model.name}) or {}
    if doc.get("epoch") != epoch:  # rebuilt meanwhile: this process goes on under its epoch until restarted
        return dict(ends)
    return {(t["topic"], t["partition"]): t["offset"] for t in doc.get("target", [])}


class FiringHold:
    """Holds a scheduler's firing while any partition it owns is short of the replay's target (none to hold in a
    Watch built without a started read model: tests, the benchmark)."""

    def __init__(self, replica: TicketReplica | None, scheduler: Any, topic: str, db: AsyncDatabase) -> None:
        self.replica, self.scheduler, self.topic, self.db = replica, scheduler, topic, db

    def short(self) -> list[int]:
        """The owned partitions whose replay is not through yet."""
        replica = self.replica
        return [] if replica is None else sorted(p for p in self.scheduler.owned if not replica.replayed(self.topic, p))

    def update(self) -> None:
        short = self.short()
        if self.scheduler.held and not short:
            log.info("ticket log replayed on every owned partition: firing what fell due meanwhile")
        elif short and not self.scheduler.held:
            log.warning("ticket log replaying on partitions %s: firing held until they reach the target", short)
        self.scheduler.hold(bool(short))

    async def progress(self, partition: int, offset: int | None) -> None:
        """The record at `offset` of the partition is applied."""
        if self.replica is None or offset is None or self.replica.replayed(self.topic, partition):
            return
        if await self.replica.reached(self.db, self.topic, partition, offset + 1):
            self.update()

    async def refresh(self) -> None:
        """Before a takeover's load: partitions another replica replayed are not held here."""
        if self.replica is not None and self.short():
            await self.replica.refresh(self.db)
            self.update()
