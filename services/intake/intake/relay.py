"""intake's outbox relay: pending events live in a small `outbox` collection (one document per arrival), are
published in the order they were written and then deleted — so the relay never scans the large `reports`
collection, and its own collection holds only what is still to be sent (FerretDB scans on every query)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaBroker

from huying.clock import Clock
from huying.dlq import is_transient
from huying.outbox import OutboxRelay
from intake.store import OUTBOX, IntakeStore

log = logging.getLogger("intake.relay")


class IntakeRelay(OutboxRelay):
    """Publishes a batch without waiting for each acknowledgement (the idempotent producer keeps the order per
    partition), waits for all of them, then deletes the batch; also sweeps ended correlation windows."""

    def __init__(
        self, broker: KafkaBroker, store: IntakeStore, clock: Clock, *, poll_seconds: float, sweep_seconds: float
    ) -> None:
        super().__init__(broker, [store.db[OUTBOX]], poll_seconds=poll_seconds, batch=500)
        self.store, self.clock, self.sweep_seconds = store, clock, sweep_seconds
        self._swept: datetime | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="intake-outbox-relay")

    async def relay_once(self) -> int:
        await self._sweep()
        outbox = self.collections[0]
        docs = await outbox.find({}, {"outbox": 1}).sort("created_at", 1).limit(self.batch).to_list()
        if not docs:
            return 0
        pending: list[Any] = []
        for doc in docs:
            for entry in doc.get("outbox") or []:
                sent = await self.broker.publish(
                    entry["value"],
                    topic=entry["topic"],
                    key=entry["key"],
                    headers=entry["headers"],
                    correlation_id=entry["event_id"],
                    no_confirm=True,
                )
                pending.append(sent)
        results = await asyncio.gather(*pending, return_exceptions=True)
        failed = [error for error in results if isinstance(error, BaseException)]
        if any(is_transient(error) for error in failed):
            raise failed[0]  # Kafka is away: nothing is deleted, the batch goes again (same event ids) in order
        for error in failed:  # a record Kafka refuses for good must not hold up everything behind it
            log.error("outbox entry not published, dropped: %r", error)
        await outbox.delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})
        return len(pending) - len(failed)

    async def _sweep(self) -> None:
        now = self.clock.now()
        if self._swept is None:
            self._swept = now  # the first sweep waits a full interval: a restart is no reason to sweep
        elif (now - self._swept).total_seconds() >= self.sweep_seconds:
            self._swept = now
            swept = await self.store.sweep(now=now)
            if swept:
                log.info("swept %d ended correlation windows", swept)
