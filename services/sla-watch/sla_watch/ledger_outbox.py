"""Publishing the ledgers' outboxes: the clock-change events a ticket event caused, written with its ledger in one
write (`clocks.outbox`, flagged `outbox_pending`) and published by the owner of the ticket's partition only (two
replicas' relays scanning the collection would both publish the same entries).

Every pass over a ledger publishes every entry it holds, in the order they were appended (per ticket, the order
its events caused them: the array's order, no timestamps), and removes exactly those that went out:
- the ticket event's own pass publishes what its write added and anything an earlier pass left;
- a sweep of the owned partitions' flagged ledgers (after a load, then every `outbox_sweep_seconds`) retries what
  a failure left;
- Kafka away (a transient error): the pass stops at that entry, it and the rest stay pending in order, and it
  raises (the ticket event is retried with backoff; the sweep tries again later);
- an entry Kafka refuses for good (e.g. a record too large) is never deleted unpublished: it is quarantined
  (`huying.outbox.quarantine`: `outbox_quarantine` with the reason, `huying_outbox_quarantined_total{collection=
  "clocks"}`, replayed by `python -m huying.replay outbox`) and leaves the ledger; the entries after it go on;
- an entry whose id the timer path published already (a breach: one id whether its timer fires or its clock
  stops late) is removed without going out twice.
A ticket's passes never overlap (one lock per ticket, shared with the ticket-event path).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol

from huying.dlq import is_transient
from sla_watch.metrics import SlaWatchMetrics

log = logging.getLogger("sla_watch.outbox")

Entry = dict[str, Any]
Send = Callable[[Entry], Awaitable[Any]]
# The ids among a ledger's entries already published under that id by the timer path.
SentElsewhere = Callable[[str, list[Entry]], Awaitable[set[str]]]


def breach_ids(entries: Iterable[Entry]) -> set[uuid.UUID]:
    """Ids of the breach entries: the only ledger events whose id a timer shares."""
    return {uuid.UUID(e["event_id"]) for e in entries if e.get("headers", {}).get("type") == "SlaBreached"}


class Outboxes(Protocol):
    """Where the ledgers' outboxes are (`store.LedgerOutboxes`)."""

    async def entries(self, ticket_id: str) -> list[Entry]: ...
    async def pending(self, partitions: Iterable[int]) -> list[str]: ...
    async def clear(self, ticket_id: str, *, read: list[Entry], gone: list[Entry]) -> None: ...
    async def quarantine(self, refused: list[tuple[Entry, BaseException]]) -> None: ...


class TicketLocks:
    """One asyncio lock per ticket, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, ticket_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(ticket_id, (asyncio.Lock(), 0))
        self._locks[ticket_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[ticket_id]
            if users == 1:
                del self._locks[ticket_id]
            else:
                self._locks[ticket_id] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class LedgerOutbox:
    def __init__(
        self,
        outboxes: Outboxes,
        send: Send,
        metrics: SlaWatchMetrics,
        *,
        locks: TicketLocks,
        sent_elsewhere: SentElsewhere,
        sweep_seconds: float,
    ) -> None:
        self._outboxes, self._send, self._metrics = outboxes, send, metrics
        self.locks, self._sent_elsewhere, self._every = locks, sent_elsewhere, sweep_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def publish(self, ticket_id: str, entries: list[Entry], *, sent: set[str]) -> int:
        """One pass over the ledger's `entries` (all it holds, in order; the caller holds the ticket's lock);
        `sent`: ids published already. Returns how many went out now; raises when Kafka is away."""
        if not entries:
            return 0
        gone: list[Entry] = []
        refused: list[tuple[Entry, BaseException]] = []
        away: BaseException | None = None
        published = 0
        for entry in entries:
            if entry["event_id"] in sent:
                gone.append(entry)
            elif away is None:  # once Kafka is away, the rest waits behind the entry it could not take, in order
                try:
                    await self._send(entry)
                except Exception as error:
                    if is_transient(error):
                        self._metrics.outbox_failed("transient")
                        away = error
                    else:
                        self._metrics.outbox_failed("refused")
                        refused.append((entry, error))
                    continue
                gone.append(entry)
                published += 1
        if refused:
            await self._outboxes.quarantine(refused)  # kept with the reason before they leave the ledger
            gone += [entry for entry, _ in refused]
        await self._outboxes.clear(ticket_id, read=entries, gone=gone)
        if away is not None:
            raise away
        return published

    async def sweep(self, partitions: Iterable[int]) -> int:
        """One pass over every flagged ledger of the partitions; returns how many entries went out."""
        published = 0
        for ticket_id in await self._outboxes.pending(partitions):
            async with self.locks.hold(ticket_id):
                entries = await self._outboxes.entries(ticket_id)  # read again under the lock
                if not entries:
                    await self._outboxes.clear(ticket_id, read=[], gone=[])  # a flag left set: lowered
                    continue
                sent = await self._sent_elsewhere(ticket_id, entries)
                published += await self.publish(ticket_id, entries, sent=sent)
        return published

    def wake(self) -> None:
        self._wake.set()

    def start(self, partitions: Callable[[], Iterable[int]]) -> None:
        """Sweep `partitions()` (the owned, loaded ones; none while ownership moves) when woken and periodically."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(partitions), name="sla-outbox-sweep")

    async def _run(self, partitions: Callable[[], Iterable[int]]) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._every)
            self._wake.clear()
            owned = sorted(partitions())
            if not owned:
                continue
            try:
                if published := await self.sweep(owned):
                    log.info("outbox sweep of partitions %s published %d pending entries", owned, published)
            except Exception:
                log.exception("outbox sweep of partitions %s failed; next in %.0fs", owned, self._every)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
