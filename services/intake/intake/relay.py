"""intake's outbox relay: pending events live in a small `outbox` collection (one document per arrival), are
published in `order` (the store's Sequencer: strictly increasing in write order) and then deleted.

The relay reads bounded ranges of `order`, never the whole collection: SecantusDB fetches every document a filter
matches before it applies a limit (measured: 0.9 s for `limit(100)` over 20,000 pending documents, 9 ms for a
range holding 100), so an open-ended "oldest first" query would cost the whole backlog on every pass just when a
storm makes it large. `OutboxCursor` decides the ranges: everything below its floor has been published, except
a straggler written late with an older order (a slow writer, another replica's skewed clock), which the `$lt floor`
check at the start of every pass (it matches only stragglers) brings the floor back to."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaBroker

from huying.clock import Clock
from huying.dlq import is_transient
from huying.outbox import OutboxRelay, quarantine, send_unconfirmed
from intake.store import ORDER, OUTBOX, IntakeStore, order_at

log = logging.getLogger("intake.relay")

SECOND = 1_000_000_000  # one second in `order` units (see intake.store.order_at)


class OutboxCursor:
    """Which range of `order` to read next (pure: the relay tells it the time and what a read returned).

    `grace`: how long after taking its order a write may still land (an order older than now − grace that is not
    yet in the collection is a straggler). `target`: documents a read should return; the span of the next range
    halves when a read returns more and doubles when it returns less than a quarter of it."""

    def __init__(self, floor: int, *, grace: int = 5 * SECOND, target: int = 500) -> None:
        self.floor, self.grace, self.target = floor, grace, target
        self.span = 2 * grace

    def window(self) -> tuple[int, int]:
        return self.floor, self.floor + self.span

    def read(self, *, now: int, found: int, last: int | None, capped: bool) -> bool:
        """A read of `window()` returned `found` documents (the greatest order `last`; `capped` if the limit cut
        it), all published since. Moves the floor over what is settled; True if the range reached the present."""
        high = self.floor + self.span
        settled = min(high, now - self.grace)
        if capped and last is not None:
            settled = min(settled, last + 1)
        self.floor = max(self.floor, settled)
        if found > self.target:
            self.span = max(1, self.span // 2)
        elif found < self.target // 4:
            self.span = min(self.span * 2, 3600 * SECOND)
        return high > now and not capped

    def straggler(self, order: int) -> None:
        """A document below the floor was found: read from there again."""
        self.floor = min(self.floor, order)


class IntakeRelay(OutboxRelay):
    """Publishes a range without waiting for each acknowledgement (the idempotent producer keeps the order per
    partition), waits for all of them, then deletes what it published; also sweeps ended correlation windows."""

    def __init__(
        self, broker: KafkaBroker, store: IntakeStore, clock: Clock, *, poll_seconds: float, sweep_seconds: float
    ) -> None:
        super().__init__(broker, [store.db[OUTBOX]], poll_seconds=poll_seconds, batch=2000)
        self.store, self.clock, self.sweep_seconds = store, clock, sweep_seconds
        self._swept: datetime | None = None
        self.cursor: OutboxCursor | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="intake-outbox-relay")

    async def relay_once(self) -> int:
        """Publish every pending document from the floor to the present, range by range."""
        await self._sweep()
        if self.cursor is None:
            self.cursor = OutboxCursor(self._now() - 5 * SECOND, grace=5 * SECOND, target=self.batch // 4)
        # Every pass (it matches only stragglers, so it is cheap): at start, whatever a previous run left; later, a
        # write that landed after the floor passed its order (a slow group insert, a tie with another replica) is
        # relayed on the next pass, before anything written after it that this pass would otherwise publish first.
        await self._stragglers()
        published = 0
        for _ in range(1000):
            low, high = self.cursor.window()
            now = self._now()
            docs = await (
                self.collections[0]
                .find({ORDER: {"$gte": low, "$lt": high}}, {"outbox": 1, ORDER: 1})
                .sort(ORDER, 1)
                .limit(self.batch)
                .to_list()
            )
            published += await self._publish(docs)
            last = docs[-1][ORDER] if docs else None
            if self.cursor.read(now=now, found=len(docs), last=last, capped=len(docs) >= self.batch):
                break
        return published

    async def _publish(self, docs: list[dict[str, Any]]) -> int:
        if not docs:
            return 0
        pending: list[tuple[dict[str, Any], Any]] = []
        refused: list[tuple[dict[str, Any], BaseException]] = []
        for doc in docs:
            for entry in doc.get("outbox") or []:
                try:
                    sent = await send_unconfirmed(self.broker, entry)
                except Exception as error:  # refused before sending (e.g. a record too large)
                    if is_transient(error):
                        raise
                    refused.append((entry, error))
                    continue
                pending.append((entry, sent))
        results = await asyncio.gather(*(sent for _, sent in pending), return_exceptions=True)
        failed = refused + [
            (entry, result)
            for (entry, _), result in zip(pending, results, strict=True)
            if isinstance(result, BaseException)
        ]
        if any(is_transient(error) for _, error in failed):
            raise failed[0][1]  # Kafka is away: nothing is deleted, the range goes again (same event ids) in order
        if failed:  # refused for good: kept aside (never deleted unpublished), so nothing behind it is held up
            await quarantine(self.store.db, failed, source=OUTBOX, now=self.clock.now(), metrics=self.metrics)
        await self.collections[0].delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})
        return len(pending) + len(refused) - len(failed)

    async def _stragglers(self) -> None:
        """Documents below the floor (the query matches only those): the oldest one moves the floor back."""
        assert self.cursor is not None
        below = {ORDER: {"$lt": self.cursor.floor}}
        for doc in await self.collections[0].find(below, {ORDER: 1}).sort(ORDER, 1).limit(1).to_list():
            log.info("outbox: pending events from before %s, relaying from there", self.cursor.floor)
            self.cursor.straggler(doc[ORDER])

    def _now(self) -> int:
        return order_at(self.clock.now())

    async def _sweep(self) -> None:
        now = self.clock.now()
        if self._swept is None:
            self._swept = now  # the first sweep waits a full interval: a restart is no reason to sweep
        elif (now - self._swept).total_seconds() >= self.sweep_seconds:
            self._swept = now
            swept = await self.store.sweep(now=now)
            if swept:
                log.info("swept %d ended correlation windows", swept)
