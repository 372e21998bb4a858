"""The in-memory side of the timers: the pending timers of the partitions this instance owns, in a heap, and
one asyncio task that fires each as its due time arrives.

Durability is the database's job (store.py): a partition's timers are loaded into the heap when the partition
is assigned and dropped when it is revoked; a firing pass and a revocation never overlap (one lock), so a
revoked partition's timer is never fired by its old owner after the new owner has loaded it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from sla_watch.domain import Timer, TimerKind

log = logging.getLogger("sla_watch.scheduler")

Fire = Callable[[list[Timer], datetime], Awaitable[None]]
# Warnings whose deadline has already passed are noise (the breach says more): skipped, never fired.
_WARNINGS = (TimerKind.WARNING, TimerKind.PROGRESS_DUE)


class Scheduler:
    """Pending timers by due time; `fire` publishes a batch and records it (and raises if it could not)."""

    def __init__(
        self, *, fire: Fire, now: Callable[[], datetime], batch: int = 500, retry_seconds: float = 1.0
    ) -> None:
        self._fire, self._now, self._batch, self._retry = fire, now, batch, retry_seconds
        self._heap: list[tuple[float, int, uuid.UUID]] = []
        self._tie = itertools.count()
        self._live: dict[uuid.UUID, Timer] = {}
        self._by_ticket: dict[str, set[uuid.UUID]] = {}
        self._fired: dict[str, set[uuid.UUID]] = {}  # fired (or skipped) while owned: never scheduled again
        self._tickets_of: dict[int, set[str]] = {}  # partition → tickets
        self._partition: dict[str, int] = {}  # ticket → partition
        self._paused = False
        self._held = False  # a replay of the ticket log is not through yet (the Watch decides)
        self._claims: dict[int, int] = {}  # partition → claim token, while its stored timers are being loaded
        self._touched: dict[int, set[str]] = {}  # tickets re-timed by their own events during that load
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.fired_count = 0
        self.skipped_count = 0

    @property
    def owned(self) -> frozenset[int]:
        return frozenset(self._tickets_of)

    @property
    def pending(self) -> int:
        return len(self._live)

    def fired_of(self, ticket_id: str) -> set[uuid.UUID]:
        """Ids of the ticket's timers fired (or skipped) while its partition is owned here."""
        return set(self._fired.get(ticket_id, ()))

    def partition_of(self, ticket_id: str) -> int:
        return self._partition[ticket_id]

    async def pause(self) -> None:
        """Stop firing (after a pass in progress) until `resume`: ownership is being renegotiated."""
        async with self._lock:
            self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def hold(self, held: bool) -> None:
        """Hold firing (True) while the ticket log is being replayed: timers are held and re-timed as usual, and
        what fell due meanwhile fires once released (late, under its own id). Unlike `pause`, an assignment's
        `resume` does not release it."""
        if self._held and not held:
            self._wake.set()
        self._held = held

    @property
    def held(self) -> bool:
        return self._held

    def next_due(self) -> datetime | None:
        """Due time of the earliest pending timer."""
        self._drop_dead_heads()
        return self._live[self._heap[0][2]].due_at if self._heap else None

    @property
    def loading(self) -> frozenset[int]:
        return frozenset(self._claims)

    def holds_claim(self, partition: int, token: int) -> bool:
        """The claim `token` on the partition is still the live one (not released, not claimed again)."""
        return self._claims.get(partition) == token

    def claim(self, partition: int) -> int:
        """Own a partition at once (its tickets' new events are timed here) while its stored timers load."""
        self._tickets_of.setdefault(partition, set())
        self._touched[partition] = set()
        token = self._claims[partition] = next(self._tie)
        return token

    async def adopt(
        self, partition: int, tickets: list[tuple[str, list[Timer]]], token: int, chunk: int = 2000
    ) -> None:
        """`own`, a chunk at a time, yielding to the event loop in between (Kafka heartbeats and due timers wait
        for a long synchronous stretch: 100,000 tickets at once blocked the loop for seconds)."""
        for i in range(0, max(len(tickets) - chunk, 0), chunk):
            if self._claims.get(partition) != token:
                return
            touched = self._touched[partition]
            for ticket_id, timers in tickets[i : i + chunk]:
                if ticket_id not in touched:
                    self.replace(ticket_id, partition, timers)
            await asyncio.sleep(0)
        self.own(partition, tickets[max(len(tickets) - chunk, 0) :], token)

    def own(self, partition: int, tickets: Iterable[tuple[str, list[Timer]]], token: int | None = None) -> None:
        """Add a partition's stored timers; tickets re-timed during the load keep their newer timers."""
        if token is None:
            token = self.claim(partition)
        if self._claims.get(partition) != token:
            return  # released (or claimed again) while loading: this load is stale
        del self._claims[partition]
        touched = self._touched.pop(partition, set())
        for ticket_id, timers in tickets:
            if ticket_id not in touched:
                self.replace(ticket_id, partition, timers)
        self._wake.set()

    async def release(self, partitions: Iterable[int]) -> None:
        """Drop the partitions' timers, after any firing pass in progress has finished."""
        async with self._lock:
            for partition in partitions:
                self._claims.pop(partition, None)
                self._touched.pop(partition, None)
                for ticket_id in self._tickets_of.pop(partition, ()):
                    self._forget(ticket_id)
                    self._fired.pop(ticket_id, None)
                    self._partition.pop(ticket_id, None)
            if not self._live:
                self._heap.clear()

    def replace(self, ticket_id: str, partition: int, timers: Iterable[Timer]) -> None:
        """A ticket's pending timers are now `timers` (ignored unless its partition is owned here)."""
        tickets = self._tickets_of.get(partition)
        if tickets is None:
            return
        if partition in self._touched:
            self._touched[partition].add(ticket_id)
        self._forget(ticket_id)
        done = self._fired.get(ticket_id, set())
        fresh = [t for t in timers if t.timer_id not in done]
        if not fresh:
            tickets.discard(ticket_id)
            self._fired.pop(ticket_id, None)
            self._partition.pop(ticket_id, None)
            return
        tickets.add(ticket_id)
        self._partition[ticket_id] = partition
        ids = self._by_ticket[ticket_id] = set()
        earliest = self._heap[0][0] if self._heap else None
        for timer in fresh:
            due = timer.due_at.timestamp()
            self._live[timer.timer_id] = timer
            ids.add(timer.timer_id)
            heapq.heappush(self._heap, (due, next(self._tie), timer.timer_id))
            if earliest is None or due < earliest:
                self._wake.set()

    async def withdraw(
        self, ticket_id: str, timer_ids: set[uuid.UUID], *, then: tuple[int, Iterable[Timer]] | None = None
    ) -> set[uuid.UUID]:
        """Take these timers of the ticket out of the heap (their event goes out another way: a breach whose clock
        stopped late is published with the ledger) once any firing pass in progress has finished, and, with `then`
        (partition, timers), `replace` the ticket's timers; returns those of them already fired here. Once it
        returns, none of them is in flight or can fire here."""
        async with self._lock:
            fired = timer_ids & self._fired.get(ticket_id, set())  # before `replace` may forget a settled ticket
            for timer_id in timer_ids:
                if self._live.pop(timer_id, None) is not None:
                    self._by_ticket.get(ticket_id, set()).discard(timer_id)
            if then is not None:
                self.replace(ticket_id, *then)
            return fired

    def _forget(self, ticket_id: str) -> None:
        for timer_id in self._by_ticket.pop(ticket_id, ()):
            self._live.pop(timer_id, None)  # its heap entry is skipped when it surfaces

    def _drop_dead_heads(self) -> None:
        while self._heap and self._heap[0][2] not in self._live:
            heapq.heappop(self._heap)

    def _take_due(self, now: datetime) -> list[Timer]:
        limit, due = now.timestamp(), []
        while self._heap and len(due) < self._batch:
            self._drop_dead_heads()
            if not self._heap or self._heap[0][0] > limit:
                break
            timer = self._live.pop(heapq.heappop(self._heap)[2])
            self._by_ticket[timer.ticket_id].discard(timer.timer_id)
            self._fired.setdefault(timer.ticket_id, set()).add(timer.timer_id)
            due.append(timer)
        return due

    async def fire_due(self) -> int:
        """One firing pass: fire up to `batch` due timers; on failure they go back to the heap and it raises."""
        async with self._lock:
            if self._paused or self._held:
                return 0
            now = self._now()
            taken = self._take_due(now)
            if not taken:
                return 0
            stale = [t for t in taken if t.kind in _WARNINGS and t.deadline <= now]
            batch = [t for t in taken if t.kind not in _WARNINGS or t.deadline > now]
            try:
                if batch:
                    await self._fire(batch, now)
            except BaseException:
                for timer in batch:
                    self._fired[timer.ticket_id].discard(timer.timer_id)
                    self._put_back(timer)
                raise
            self.fired_count += len(batch)
            self.skipped_count += len(stale)
            return len(taken)

    def _put_back(self, timer: Timer) -> None:
        self._live[timer.timer_id] = timer
        self._by_ticket.setdefault(timer.ticket_id, set()).add(timer.timer_id)
        heapq.heappush(self._heap, (timer.due_at.timestamp(), next(self._tie), timer.timer_id))

    async def run(self) -> None:
        """Fire timers as they fall due, forever (cancel to stop)."""
        while True:
            try:
                if await self.fire_due():
                    continue
            except Exception:
                log.exception("firing pass failed; retrying in %.1fs", self._retry)
                await asyncio.sleep(self._retry)
                continue
            self._wake.clear()
            due = None if self._paused or self._held else self.next_due()
            delay = None if due is None else max(0.0, (due - self._now()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="sla-timers")

    async def stop(self) -> None:
        """Stop firing; a pass in progress finishes first (so what it published is also recorded)."""
        if self._task is None:
            return
        async with self._lock:
            self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
