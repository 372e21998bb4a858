"""Loading the stored timers of newly assigned partitions into the scheduler, retried until it succeeds or the
partitions are no longer ours: a database outage at a takeover delays those timers, it never silently drops a
partition (until it is loaded, `/readyz` says so: `partitions_loaded` false).

Waits between attempts grow exponentially with full jitter (`huying.backoff.Backoff`: a uniform draw below the
capped exponential), so replicas that lost the database together do not come back in step; the shared
`retry_initial_seconds` and `retry_max_seconds` settings bound them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from huying.backoff import Backoff
from sla_watch.domain import Timer
from sla_watch.scheduler import Scheduler

log = logging.getLogger("sla_watch.loading")

Load = Callable[[list[int]], Awaitable[dict[int, list[tuple[str, list[Timer]]]]]]


class PartitionLoader:
    """Loads claimed partitions (`Scheduler.claim` tokens) with `load`, retrying until loaded or released."""

    def __init__(
        self,
        scheduler: Scheduler,
        load: Load,
        *,
        backoff: Backoff,
        failed: Callable[[], None] = lambda: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._scheduler, self._load, self._failed = scheduler, load, failed
        self._backoff, self._sleep, self._rng = backoff, sleep, rng

    async def load(self, tokens: dict[int, int]) -> set[int]:
        """Load the partitions still claimed under their tokens; returns those adopted (cancel to stop)."""
        failures = 0
        while True:
            claimed = {p: t for p, t in tokens.items() if self._scheduler.holds_claim(p, t)}
            if not claimed:
                return set()  # released (or claimed again by a newer assignment) meanwhile
            partitions = sorted(claimed)
            try:
                loaded = await self._load(partitions)
            except Exception:
                self._failed()
                failures += 1
                wait = self._backoff.wait(failures, self._rng)
                log.exception(
                    "loading timers of partitions %s failed (attempt %d); retrying in %.1fs", partitions, failures, wait
                )
                await self._sleep(wait)
                continue
            for partition, tickets in loaded.items():
                await self._scheduler.adopt(partition, tickets, claimed[partition])
            adopted = {p for p in partitions if p in self._scheduler.owned and p not in self._scheduler.loading}
            log.info("partitions %s taken over: %d pending timers held", partitions, self._scheduler.pending)
            return adopted
