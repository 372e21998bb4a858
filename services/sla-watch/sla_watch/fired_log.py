"""Fired timer ids on their way to the database, written behind the firing loop.

A firing pass publishes its events and hands the fired timers here; one background task writes them (one bulk
write of everything waiting: per pass, or for several passes when they come faster than the database answers), so
a slow database write never delays the next due timer. `flush` waits until everything handed over is written: a
rebalance and a shutdown call it before the partitions go to another owner, which then never re-fires what was
fired here. A failed write is retried (the ids stay waiting); a replica killed before its write leaves those ids
unrecorded, and the next owner fires them again under the same event ids (docs/sla-watch.md, guarantees).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from sla_watch.domain import Timer

log = logging.getLogger("sla_watch.fired")

Write = Callable[[list[Timer]], Awaitable[None]]
FLUSH_SECONDS = 5.0  # a rebalance or a shutdown waits this long at most for the database


class FiredLog:
    def __init__(self, write: Write, *, retry_seconds: float = 1.0) -> None:
        self._write, self._retry = write, retry_seconds
        self._waiting: list[Timer] = []
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def add(self, timers: Iterable[Timer]) -> None:
        """Fired timers to record (returns at once)."""
        self._waiting.extend(timers)
        if self._waiting:
            self._idle.clear()
            self._wake.set()
            if self._task is None:
                self._task = asyncio.create_task(self._run(), name="sla-fired-log")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._waiting = self._waiting, []
            if not batch:
                continue
            try:
                await self._write(batch)
            except Exception:
                log.exception("recording %d fired timers failed; retrying in %.1fs", len(batch), self._retry)
                self._waiting[:0] = batch
                self._wake.set()
                await asyncio.sleep(self._retry)
                continue
            if not self._waiting:
                self._idle.set()

    async def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Wait until every fired timer handed over so far is written; False if the database did not answer in
        time (those ids stay waiting, and a new owner may fire them again under the same ids)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("%d fired timers not recorded within %.0fs", len(self._waiting), timeout)
            return False
        return True

    async def stop(self) -> None:
        """Write what is waiting, then stop the writer."""
        if self._task is None:
            return
        await self.flush()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
