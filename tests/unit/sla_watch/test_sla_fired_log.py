"""The fired log writes behind the firing loop: passes that come while a write is in flight share the next write,
a failed write is retried, and flush returns once everything handed over is written."""

from __future__ import annotations

import asyncio

import pytest

from sla_watch.domain import pending_timers
from sla_watch.fired_log import FiredLog
from tests.unit.sla_watch import builders as b

pytestmark = pytest.mark.unit


async def test_writes_coalesce_retry_and_flush() -> None:
    timers = list(pending_timers(b.run(b.opened(0), b.dispatched(1)), now=b.at(0)))
    assert len(timers) >= 3
    gate, writes, failures = asyncio.Event(), [], [1]

    async def write(batch):
        await gate.wait()
        if failures:
            failures.pop()
            raise ConnectionError("database away")
        writes.append([t.timer_id for t in batch])

    log = FiredLog(write, retry_seconds=0.01)
    log.add(timers[:1])
    await asyncio.sleep(0)  # the first write is in flight (waiting at the gate)
    log.add(timers[1:2])
    log.add(timers[2:3])
    assert not await log.flush(timeout=0.05)  # nothing written yet
    gate.set()
    assert await log.flush(timeout=2)
    written = [i for batch in writes for i in batch]
    assert sorted(written) == sorted(t.timer_id for t in timers[:3])  # the failed one retried, nothing lost
    assert len(writes) <= 2  # the two later passes shared a write
    await log.stop()
