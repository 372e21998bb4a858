"""Loading an assigned partition's stored timers: retried with capped exponential backoff and jitter until it
succeeds (no attempt limit), stopped when the partition is released or the load cancelled, each failure counted;
readiness says not loaded meanwhile."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from huying.backoff import Backoff
from huying.clock import ManualClock
from sla_watch.app import readiness
from sla_watch.domain import pending_timers
from sla_watch.handlers import WATCH
from sla_watch.loading import PartitionLoader
from sla_watch.scheduler import Scheduler
from tests.unit.sla_watch.builders import T0, TICKET, dispatched, opened, run

pytestmark = pytest.mark.unit


class FlakyStore:
    """Stored timers of partition 0 behind a database that fails `failures` times first."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, []
        self.timers = list(pending_timers(run(opened(0), dispatched(0)), now=T0))

    async def __call__(self, partitions: list[int]):
        self.calls.append(partitions)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        return {p: [(TICKET, self.timers)] if p == 0 else [] for p in partitions}


def setup(store: FlakyStore, sleep, initial: float = 0.2) -> tuple[Scheduler, PartitionLoader, list[int]]:
    async def fire(batch, now) -> None:
        pass

    scheduler, failed = Scheduler(fire=fire, now=ManualClock(T0).now), []
    loader = PartitionLoader(
        scheduler, store, backoff=Backoff(initial, 30), failed=lambda: failed.append(1), sleep=sleep, rng=lambda: 0.5
    )
    return scheduler, loader, failed


def runtime_with(watch) -> SimpleNamespace:
    return SimpleNamespace(broker=SimpleNamespace(context={WATCH: watch}))


async def test_a_load_keeps_retrying_with_backoff_past_any_attempt_count_and_readiness_follows() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        status = await readiness(runtime_with(SimpleNamespace(loaded=not scheduler.loading)))
        assert status == {"partitions_loaded": False}  # while it fails, /readyz says so

    store = FlakyStore(failures=40)  # more than the 30 attempts the old loader gave up after
    scheduler, loader, failed = setup(store, sleep)
    assert await readiness(runtime_with(SimpleNamespace(loaded=not scheduler.loading))) == {"partitions_loaded": True}
    tokens = {0: scheduler.claim(0), 1: scheduler.claim(1)}
    assert await loader.load(tokens) == {0, 1}
    assert scheduler.pending == len(store.timers) and scheduler.loading == frozenset()
    assert len(failed) == 40 and len(store.calls) == 41
    assert waits[:4] == [0.1, 0.2, 0.4, 0.8] and max(waits) == 15.0  # half of each ceiling (the jitter drew 0.5)
    assert await readiness(runtime_with(SimpleNamespace(loaded=not scheduler.loading))) == {"partitions_loaded": True}


async def test_a_partition_released_while_its_load_fails_is_no_longer_loaded() -> None:
    async def sleep(seconds: float) -> None:
        if len(store.calls) == 3:
            await scheduler.release([1])  # a rebalance took partition 1 away
        if len(store.calls) == 5:
            await scheduler.release([0])

    store = FlakyStore(failures=10)
    scheduler, loader, _ = setup(store, sleep)
    tokens = {0: scheduler.claim(0), 1: scheduler.claim(1)}
    assert await loader.load(tokens) == set()
    assert store.calls == [[0, 1]] * 3 + [[0]] * 2
    assert scheduler.loading == frozenset() and scheduler.pending == 0


async def test_a_load_stops_when_cancelled_during_its_wait() -> None:
    waiting = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waiting.set()
        await asyncio.sleep(seconds)

    store = FlakyStore(failures=1_000_000)
    scheduler, loader, _ = setup(store, sleep, initial=30)  # a long first wait
    task = asyncio.create_task(loader.load({0: scheduler.claim(0)}))
    await asyncio.wait_for(waiting.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(store.calls) == 1 and scheduler.loading == {0}
