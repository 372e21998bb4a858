"""One instance's SLA work: ticket events → ledger, transitions and timers; timers of owned partitions → events.

Idempotency: a ticket event whose id is already in the ledger changes nothing (its timers are re-derived and
re-saved, and its ledger's outbox published, which also finishes the work of an instance that died between its
writes); a timer fires under its own deterministic id and is recorded in its ticket's `fired` set, so it is never
scheduled again. A breach has one id whether its timer fires or its clock stops late: before the ledger's breach
goes out, its timer is withdrawn from the scheduler (after a firing pass in flight), so it goes out by one path.

One replay per event: the ledger stores the clock states of its last replay, which are the next event's "before".
The ledger's outbox: `ledger_outbox.py`; loading a partition's timers: `loading.py`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from huying.backoff import Backoff
from huying.events import TicketEvent, TicketMessage, TicketOpened, TicketVerified
from huying.events.sla import SlaEvent
from huying.failures import failure_metrics
from huying.kafka import publish_event
from huying.outbox import outbox_entry, send_unconfirmed
from huying.rebuild import replica_of
from huying.service import Runtime
from sla_watch import store
from sla_watch.domain import (
    ClockState,
    PolicyBook,
    TicketSla,
    Timer,
    WorkingCalendar,
    clocks_data,
    clocks_from,
    move_reason,
    pending_timers,
    purge_after,
    replay,
    transitions,
    year_purge_after,
)
from sla_watch.domain.messages import timer_event, transition_event
from sla_watch.domain.pricing import ratio_for
from sla_watch.domain.quality import budget_alerts, fault_of
from sla_watch.fired_log import FiredLog
from sla_watch.ledger_outbox import LedgerOutbox, TicketLocks, breach_ids
from sla_watch.loading import PartitionLoader
from sla_watch.metrics import sla_watch_metrics
from sla_watch.policy_loader import load_calendar, load_policy
from sla_watch.replaying import FiringHold
from sla_watch.scheduler import Scheduler
from sla_watch.settings import SlaWatchSettings

log = logging.getLogger("sla_watch")
TICKET_EVENTS: TypeAdapter[Any] = TypeAdapter(TicketMessage)
CONFLICT_ATTEMPTS = 3
CLOCK_STATES = "clock_states"  # the ledger's clock states after its last event (None: not opened yet)


def load_book(settings: SlaWatchSettings) -> PolicyBook:
    """The current policy (with the deployment's override) and every previous version still in use."""
    current = load_policy(settings.policy_file, override=settings.policy_override)
    return PolicyBook((current, *(load_policy(p) for p in settings.previous_policies)))


class Watch:
    """Ledgers, timers and firing for the partitions of `huying.tickets.v1` this instance owns."""

    def __init__(self, runtime: Runtime, *, book: PolicyBook | None = None, calendar: WorkingCalendar | None = None):
        settings: SlaWatchSettings = runtime.settings  # type: ignore[assignment]
        self.runtime, self.settings, self.db = runtime, settings, runtime.db
        self.book = book or load_book(settings)
        self.calendar = calendar or load_calendar(settings.calendar_overrides)
        self._versions = {p.version: p for p in self.book.policies}
        self.horizon = timedelta(days=settings.retention_days)
        self._loads: set[asyncio.Task[None]] = set()
        self.fired = FiredLog(lambda timers: store.record_fired(self.db, timers), retry_seconds=settings.retry_seconds)
        self.scheduler = Scheduler(
            fire=self._fire, now=runtime.clock.now, batch=settings.fire_batch, retry_seconds=settings.retry_seconds
        )
        self.metrics = sla_watch_metrics(runtime.metrics, loading=lambda: len(self.scheduler.loading))
        self.outbox = LedgerOutbox(
            store.LedgerOutboxes(self.db, failures=failure_metrics(runtime.broker)),
            self._send,
            self.metrics,
            locks=TicketLocks(),
            sent_elsewhere=self._sent_by_timers,
            sweep_seconds=settings.outbox_sweep_seconds,
        )
        self.hold = FiringHold(replica_of(runtime, "tickets"), self.scheduler, runtime.topics.tickets.name, self.db)
        self.loader = PartitionLoader(
            self.scheduler,
            self._load_stored,
            backoff=Backoff.of(settings),
            failed=self.metrics.load_failed,
        )

    def replay(self, events: list[TicketEvent]) -> TicketSla | None:
        return replay(events, policy=self.book, calendar=self.calendar)

    async def ledger(self, ticket_id: str) -> tuple[dict[str, Any] | None, list[TicketEvent]]:
        """The stored ledger document of a ticket and its events."""
        doc = await store.get_ledger(self.db, ticket_id)
        return doc, [] if doc is None else [TICKET_EVENTS.validate_python(e) for e in doc["events"]]

    async def on_ticket_event(self, event: TicketEvent, *, partition: int, offset: int | None = None) -> None:
        """Add the event to the ticket's ledger with the transitions it causes, then re-derive its timers; `offset`:
        its record's, for the replay's progress (replaying.py)."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                await self._apply(event, partition)
            except store.Conflict:
                log.warning("ledger of %s changed meanwhile (attempt %d); re-reading", event.ticket_id, attempt + 1)
                continue
            return await self.hold.progress(partition, offset)
        raise ConnectionError(f"ledger of {event.ticket_id} keeps changing")  # transient: redelivered, not DLQ'd

    async def _apply(self, event: TicketEvent, partition: int) -> None:
        async with self.outbox.locks.hold(event.ticket_id):  # never alongside a sweep's pass over this ledger
            await self._apply_held(event, partition)

    async def _apply_held(self, event: TicketEvent, partition: int) -> None:
        doc, events = await self.ledger(event.ticket_id)
        left = list((doc or {}).get("outbox") or [])  # entries an earlier pass could not publish
        stored = await store.fired_ids(self.db, event.ticket_id)
        fired = stored | self.scheduler.fired_of(event.ticket_id)
        if any(e.event_id == event.event_id for e in events):  # redelivered: finish what may be unfinished
            sla = self.replay(events)
            timers = self._pending(sla, fired)
            withdrawn = await self._save_timers(
                event.ticket_id, partition, timers, self._purge_after(sla, timers), left
            )
            await self.outbox.publish(event.ticket_id, left, sent=_ids(stored | withdrawn))
            await self._quality(events, sla)
            return
        before, after = self._before(doc, events), self.replay([*events, event])
        timers = self._pending(after, fired)
        outbox = []
        if after is not None:
            for change in transitions(before, after, reason=move_reason(event)):
                message = transition_event(change, at=event.occurred_at)
                if message is not None and message.event_id not in fired:  # a fired breach is not sent again
                    outbox.append(outbox_entry(self.runtime.topics.sla.name, message))
        purge = self._purge_after(after, timers)
        await store.save_ledger(
            self.db,
            event.ticket_id,
            version=0 if doc is None else doc["version"],
            event=event.model_dump(mode="json"),
            fields=_summary(event, after, partition),
            outbox=outbox,
            purge_after=purge,
        )
        entries = [*left, *outbox]  # what the ledger's outbox now holds, in the order appended
        withdrawn = await self._save_timers(event.ticket_id, partition, timers, purge, entries)
        await self.outbox.publish(event.ticket_id, entries, sent=_ids(stored | withdrawn))
        await self._quality([*events, event], after)

    def _before(self, doc: dict[str, Any] | None, events: list[TicketEvent]) -> tuple[ClockState, ...] | None:
        """The clock states the ledger had: stored with it (a replay only for a ledger written before they were)."""
        if doc is None:
            return None
        if CLOCK_STATES not in doc:
            sla = self.replay(events)
            return None if sla is None else sla.clocks
        stored = doc[CLOCK_STATES]
        return None if stored is None else clocks_from(stored)

    def _pending(self, sla: TicketSla | None, fired: set[uuid.UUID]) -> list[Timer]:
        now = self.runtime.clock.now()
        return [t for t in pending_timers(sla, now=now) if t.timer_id not in fired] if sla else []

    def _purge_after(self, sla: TicketSla | None, timers: list[Timer]) -> datetime | None:
        return purge_after(sla, pending=bool(timers), now=self.runtime.clock.now(), horizon=self.horizon)

    async def _quality(self, events: list[TicketEvent], sla: TicketSla | None) -> None:
        """A resolved ticket counts against its line's yearly budget (表75); a cancelled one no longer does.
        Idempotent: the ticket's fault is rewritten, and each budget event is sent once under its fixed id."""
        if sla is None or sla.status not in ("resolved", "closed", "cancelled"):
            return
        if sla.status == "cancelled" or not sla.operator_cause:  # no fault, or no longer the operator's
            await store.forget_faults(self.db, sla.ticket_id)
            return
        opened = next(e for e in events if isinstance(e, TicketOpened))
        verified = [e.service_line_id for e in events if isinstance(e, TicketVerified) and e.service_line_id]
        line = opened.service_line_id or (verified[-1] if verified else None)
        fault = fault_of(sla, service_line_id=line, terminal_only=opened.terminal_only)
        if fault is None:
            return
        purge = year_purge_after(fault.year, self.horizon)
        await store.record_fault(self.db, fault, purge_after=purge)
        faults = await store.line_faults(self.db, fault.service_line_id, fault.year)
        for alert in budget_alerts(faults, latest=fault, policy=self.book.at(fault.resolved_at)):
            if not await store.quality_sent(self.db, alert.event_id):
                await publish_event(self.runtime.broker, self.runtime.topics.sla.name, alert)
                await store.mark_quality_sent(self.db, alert, at=self.runtime.clock.now(), purge_after=purge)

    async def _save_timers(
        self, ticket_id: str, partition: int, timers: list[Timer], purge: datetime | None, entries: list[dict[str, Any]]
    ) -> set[uuid.UUID]:
        """The ticket's pending timers, held and stored, before its ledger's `entries` are published; returns the ids
        of its breach entries whose timer was fired here already (those entries are not published again)."""
        breaches = breach_ids(entries)
        if breaches:
            withdrawn = await self.scheduler.withdraw(ticket_id, breaches, then=(partition, timers))
        else:
            self.scheduler.replace(ticket_id, partition, timers)
            withdrawn = set()
        await store.save_timers(self.db, ticket_id, partition, timers, purge_after=purge)
        return withdrawn

    async def _send(self, entry: dict[str, Any]) -> None:
        """One outbox entry to Kafka, acknowledged before the next (a ticket's events go out in order)."""
        await (await send_unconfirmed(self.runtime.broker, entry))

    async def _sent_by_timers(self, ticket_id: str, entries: list[dict[str, Any]]) -> set[str]:
        """Ids of the entries already published by the timer path: fired and recorded, or fired here."""
        recorded = await store.fired_ids(self.db, ticket_id)
        return _ids(recorded | await self.scheduler.withdraw(ticket_id, breach_ids(entries)))

    def _unreadable(self, ticket_id: Any, error: Exception) -> None:
        self.metrics.unreadable()
        log.error(
            "a stored timer of ticket %s cannot be read, skipped (its next event re-derives it): %r", ticket_id, error
        )

    async def assigned(self, partitions: set[int]) -> None:
        """The group gave us `partitions`: drop what we lost, claim what we gained and load it in the background.

        The rebalance callback returns at once: aiokafka sends no heartbeats while it runs, so a long load here
        would get this member expelled from the group (and the partitions bounced between replicas).
        """
        owned = self.scheduler.owned
        await self.scheduler.release(owned - partitions)
        tokens = {p: self.scheduler.claim(p) for p in sorted(partitions - owned)}
        self.hold.update()  # firing held while an owned partition is still being replayed
        self.scheduler.resume()
        self.scheduler.start()
        self.outbox.start(self._sweepable)
        self.outbox.wake()
        if tokens:
            task = asyncio.create_task(self._load(tokens), name=f"sla-load-{sorted(tokens)}")
            self._loads.add(task)
            task.add_done_callback(self._loads.discard)

    async def _load_stored(self, partitions: list[int]) -> dict[int, list[tuple[str, list[Timer]]]]:
        await self.hold.refresh()  # another replica may have replayed them
        return await store.load_partitions(self.db, partitions, unreadable=self._unreadable)

    async def _load(self, tokens: dict[int, int]) -> None:
        """Until loaded or released (`loading.py`); then what their ledgers left unpublished goes out."""
        if await self.loader.load(tokens):
            self.outbox.wake()

    def _sweepable(self) -> frozenset[int]:
        """Partitions whose ledgers the sweep may publish: owned and loaded, and none while ownership moves."""
        return frozenset() if self.scheduler.paused else self.scheduler.owned - self.scheduler.loading

    @property
    def loaded(self) -> bool:
        """Every owned partition's stored timers are held (true with nothing assigned yet)."""
        return not self.scheduler.loading

    async def revoked(self) -> None:
        """A rebalance began: stop firing until the new assignment is known (kept partitions keep their heap), and
        have everything fired so far recorded before another replica may load these partitions."""
        await self.scheduler.pause()
        await self.fired.flush()

    async def _fire(self, batch: list[Timer], now: datetime) -> None:
        topic = self.runtime.topics.sla.name
        events = [
            timer_event(t, fired_at=now, warning_ratio=self._ratio(t), late_after=self.settings.late_after_seconds)
            for t in batch
        ]
        by_ticket: dict[str, list[SlaEvent]] = {}
        for event in events:
            by_ticket.setdefault(event.ticket_id, []).append(event)
        await asyncio.gather(*(self._publish_in_order(topic, group) for group in by_ticket.values()))
        self.fired.add(batch)  # written behind the loop: the next due timer does not wait for the database

    async def _publish_in_order(self, topic: str, events: list[SlaEvent]) -> None:
        # concurrently across tickets, one after another within a ticket: its events stay in due order
        for event in events:
            await publish_event(self.runtime.broker, topic, event)

    def _ratio(self, timer: Timer) -> float | None:
        policy = self._versions.get(timer.policy_version)
        return None if policy is None else ratio_for(timer.clock, policy)

    async def stop(self) -> None:
        for task in list(self._loads):
            task.cancel()
        await asyncio.gather(*self._loads, return_exceptions=True)
        await self.outbox.stop()
        await self.scheduler.stop()
        await self.fired.stop()


def _summary(event: TicketEvent, sla: TicketSla | None, partition: int) -> dict[str, Any]:
    fields: dict[str, Any] = {"partition": partition, CLOCK_STATES: None if sla is None else clocks_data(sla.clocks)}
    if isinstance(event, TicketOpened | TicketVerified):
        known = {"customer_id": event.customer_id, "service_line_id": event.service_line_id}
        fields |= {key: value for key, value in known.items() if value}
    if sla is not None:
        fields |= {"status": sla.status, "policy_version": sla.policy_version, "tier": sla.tier.value}
    return fields


def _ids(ids: set[uuid.UUID]) -> set[str]:
    return {str(i) for i in ids}
