"""The intake process: every arrival (HTTP report, Kafka report, alarm) becomes exactly one outcome — a ticket
opened, a link to an existing ticket or incident, or a record that opens nothing — with its events in the outbox.

Idempotency: an arrival is recorded under "source_system:external_id" with an insert; a duplicate waits for the
first copy's outcome and returns it. Every later step converges on a retry (deterministic ids, windows that know
their owner), so a copy that finds no outcome after a crash finishes the work instead of dropping it.

Concurrency: no lock in the process. Each deciding write is one atomic single-document write (a window claimed by
an insert of its fault key or swapped by owner, an area saved under its version, an outcome inserted once), so
concurrent arrivals in one process and in different replicas are decided the same way: one wins, the others read
again and follow it."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from huying.clock import Clock
from huying.dlq import is_transient
from huying.events import Channel, Event, Tier
from huying.topics import Topics
from intake.domain import rules as channel
from intake.domain.correlation import AreaKind, AreaVerdict, Candidate, LineVerdict, correlate_area, line_verdict
from intake.domain.correlation import new_window as make_window
from intake.domain.emit import Link, Outcome, incident_opened, report_linked, ticket_opened, ticket_verified
from intake.domain.ids import is_incident_id, ticket_id_for
from intake.domain.model import Arrival, Rules, Snapshot
from intake.store import IntakeStore, arrival_from_doc, refs_of

log = logging.getLogger("intake.process")


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass
class Plan:
    """An outcome with its events and the bookkeeping to do around committing them."""

    outcome: Outcome
    events: list[Event] = field(default_factory=list)
    window: tuple[str, object] | None = None  # (fault key, LineWindow) to mark committed
    incident: tuple[str, str] | None = None  # (area id, incident id) to mark committed
    green: str | None = None  # green-channel ticket awaiting its formal record
    unverified: tuple[str, str] | None = None  # (ticket id, tier opened with)

    @property
    def standalone(self) -> bool:
        """Nothing waits for this plan's commit and it keeps no bookkeeping: it may be committed in bulk later."""
        return not (self.window or self.incident or self.green or self.unverified)


class Intake:
    def __init__(
        self,
        store: IntakeStore,
        rules: Rules,
        topics: Topics,
        clock: Clock,
        *,
        wake: Callable[[], None] = lambda: None,
        duplicate_wait: float = 10.0,
    ) -> None:
        self.store, self.rules, self.topics, self.clock = store, rules, topics, clock
        self.wake, self.duplicate_wait = wake, duplicate_wait

    async def take(self, arrival: Arrival) -> Outcome:
        """Handle one arrival; a duplicate returns the first copy's outcome with duplicate=True."""
        now = self.clock.now()
        # The master data is read (into the CRM cache) while the arrival is recorded: one round trip less to wait.
        claimed, _ = await asyncio.gather(self.store.claim(arrival, now=now), self.store.master(arrival))
        return await self._handle(arrival, now, takeover=not claimed)

    async def take_batch(self, arrivals: Sequence[Arrival], *, concurrency: int = 32) -> list[Outcome | Exception]:
        """`take` for a batch (a storm's alarms, a batch request): one round trip records every arrival, arrivals
        on different lines are decided concurrently (in order per line), and outcomes that only link or record are
        committed together at the end. Each arrival gets its outcome, or the error it alone failed with (to
        dead-letter); an infrastructure error fails the whole batch, which is then redelivered and converges."""
        now = self.clock.now()
        firsts = await self.store.claim_many(list(arrivals), now=now)
        results: list[Outcome | Exception | None] = [None] * len(arrivals)
        deferred: list[tuple[int, Plan]] = []
        first_of: dict[str, int] = {}
        groups: dict[str, list[int]] = {}
        for n, arrival in enumerate(arrivals):
            groups.setdefault(arrival.service_line_id or arrival.customer_id or arrival.key, []).append(n)
        gate = asyncio.Semaphore(concurrency)

        async def run(indices: list[int]) -> None:
            async with gate:
                for n in indices:
                    arrival = arrivals[n]
                    if arrival.key in first_of:
                        continue  # a second copy within the batch: answered from the first below
                    first_of[arrival.key] = n
                    try:
                        results[n] = await self._handle(
                            arrival,
                            now,
                            takeover=arrival.key not in firsts,
                            defer=lambda plan, n=n: deferred.append((n, plan)),
                        )
                    except Exception as error:
                        if is_transient(error):
                            raise
                        log.exception("report %s failed", arrival.key)
                        results[n] = error

        try:
            async with asyncio.TaskGroup() as group:
                for indices in groups.values():
                    group.create_task(run(indices))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        if deferred:
            stored = await self.store.commit_many(
                [(p.outcome, [(self.topics.tickets.name, e) for e in p.events]) for _, p in deferred], now=now
            )
            self.wake()
            for n, plan in deferred:
                if plan.outcome.report_id not in stored:  # another copy (another replica) committed first
                    results[n] = replace(
                        await self.store.outcome(plan.outcome.report_id) or plan.outcome, duplicate=True
                    )
        for n, arrival in enumerate(arrivals):
            if results[n] is None:
                first = results[first_of[arrival.key]]
                results[n] = replace(first, duplicate=True) if isinstance(first, Outcome) else first
        return results  # type: ignore[return-value]

    async def _handle(
        self, arrival: Arrival, now: datetime, *, takeover: bool, defer: Callable[[Plan], None] | None = None
    ) -> Outcome:
        """Decide and commit a recorded arrival. `takeover`: it was recorded before (a duplicate, or a copy whose
        handling crashed). `defer`: a plan that only links or records is handed there to be committed in bulk."""
        if takeover:
            done = await self.store.wait_outcome(arrival.key, timeout=await self._patience(arrival.key, now))
            if done:
                return replace(done, duplicate=True)
            log.warning("report %s recorded but never finished; finishing it now", arrival.key)
        plan = await self._decide(arrival, now)
        if takeover and (done := await self.store.outcome(arrival.key)):
            return replace(done, duplicate=True)  # the first copy was only slow, and has finished meanwhile
        if defer is not None and not takeover and plan.standalone:
            defer(plan)
            return plan.outcome
        if not await self._commit(plan, arrival, now):
            return replace(await self.store.outcome(arrival.key) or plan.outcome, duplicate=True)
        if plan.unverified:  # CRM data may have arrived while we decided: check again, uncached
            await self._verify([(plan.unverified[0], plan.unverified[1], arrival)])
        return plan.outcome

    async def record_only(self, arrival: Arrival, reason: str) -> Outcome:
        """Keep an arrival that opens nothing (e.g. an alarm clearing), idempotently."""
        outcome = Outcome(arrival.key, "recorded", reason=reason)
        if await self.store.claim(arrival, now=self.clock.now()):
            await self.store.commit(outcome, [], now=self.clock.now())
            return outcome
        return replace(await self.store.outcome(arrival.key) or outcome, duplicate=True)

    async def _patience(self, key: str, now: datetime) -> float:
        """How much longer to wait for the first copy: `duplicate_wait` from when it was recorded (a batch
        redelivered after a crash does not wait the full time again for every report)."""
        first = await self.store.report(key)
        if not first or not first.get("received_at"):
            return self.duplicate_wait
        return max(0.0, self.duplicate_wait - (now - _aware(first["received_at"])).total_seconds())

    async def _decide(self, a: Arrival, now: datetime) -> Plan:
        """What to do with an arrival; one far behind its receipt is flagged whatever becomes of it."""
        plan = await self._plan(a, now)
        late = channel.reported_late(a, now, self.rules)
        if late is None:
            return plan
        log.warning("report %s %s: taken, flagged reported_late", a.key, late)
        reason = f"{plan.outcome.reason}; {late}" if plan.outcome.reason else late
        return replace(plan, outcome=replace(plan.outcome, reason=reason, reported_late=True))

    async def _plan(self, a: Arrival, now: datetime) -> Plan:
        if a.is_alarm and not a.service_line_id:
            return Plan(Outcome(a.key, "recorded", reason="alarm names no service line"))
        snap = channel.enrich(a, await self.store.master(a), self.rules)
        if channel.is_consultation(a, snap):
            return Plan(Outcome(a.key, "recorded", reason="consultation answered from the FAQ", verified=snap.verified))
        note = None
        target = channel.backfill_target(a)
        if target and await self.store.is_green(target):
            return self._linked(a, target, "backfill", now)
        if target:
            note = f"{channel.BACKFILL_TICKET} {target} is no green-channel ticket: handled as a new report"
        fault = channel.fault_key(a, snap)
        if fault is None:
            plan = await self._open(a, snap, now) if channel.opens_on_its_own(a, self.rules) else self._quiet(a)
        else:
            plan = await self._on_fault(a, snap, fault[0], fault[1], now)
        return replace(plan, outcome=replace(plan.outcome, reason=plan.outcome.reason or note))

    def _quiet(self, a: Arrival) -> Plan:
        return Plan(Outcome(a.key, "recorded", reason=f"{a.alarm_severity} alarm opens no ticket on its own"))

    def _linked(self, a: Arrival, ticket_id: str, link: Link, now: datetime) -> Plan:
        event = report_linked(a, ticket_id=ticket_id, link=link, now=now)
        return Plan(Outcome(a.key, "linked", ticket_id=ticket_id, link=link), [event])

    async def _on_fault(self, a: Arrival, snap: Snapshot, fault: str, link: Link, now: datetime) -> Plan:
        for _ in range(20):
            window = await self.store.window(fault)
            verdict = line_verdict(window, key=a.key, at=a.reported_at, rules=self.rules)
            if verdict is LineVerdict.LINK and window is not None:
                window = await self._committed_window(fault, window)
                return await self._linked_to_fault(a, snap, window.target, link, now)
            if verdict is not LineVerdict.MINE and not channel.opens_on_its_own(a, self.rules):
                return self._quiet(a)
            if verdict is LineVerdict.NONE:
                return await self._open(a, snap, now)
            mine = window if verdict is LineVerdict.MINE else None
            if mine is None:
                fresh = make_window(key=a.key, target=ticket_id_for(a.key), at=a.reported_at, rules=self.rules)
                replacing = window.owner if verdict is LineVerdict.REPLACE and window else None
                mine = await self.store.claim_window(fault, fresh, replacing=replacing)
                if mine is None:
                    continue  # another arrival on this fault claimed it first (another replica): link to it
            plan = await self._open(a, snap, now)
            if plan.outcome.ticket_id != mine.target:  # linked to an incident: later arrivals follow it there
                mine = replace(mine, target=plan.outcome.ticket_id or mine.target)  # written with the commit
            return replace(plan, window=(fault, mine))
        raise RuntimeError(f"no stable correlation window for {fault}")

    async def _linked_to_fault(self, a: Arrival, snap: Snapshot, target: str, link: Link, now: datetime) -> Plan:
        """A further report on a fault's ticket. An ordinary customer's full outage counts toward a mass outage even
        here (the ticket may have opened on a degradation, or on a minor alarm's neighbour): the incident it
        completes lists that ticket among its children, and the report itself stays linked to it."""
        plan = self._linked(a, target, link, now)
        if not (snap.city and snap.full_outage) or is_incident_id(target):
            return plan  # most links of a storm: no round trip more
        candidate = await self._candidate(a, snap, target)
        if not candidate.counts:
            return plan
        area_id = f"{snap.city}|{snap.service}"
        verdict = await self._correlate(area_id, replace(candidate, own_ticket_in_incident=True))
        incident = verdict.incident
        if verdict.kind is not AreaKind.OPENED or incident is None:
            return plan
        opened = incident_opened(
            a, incident, city=snap.city, category=snap.category, service=snap.service, rules=self.rules, now=now
        )
        plan.events.insert(0, opened)
        plan.incident = (area_id, incident.incident_id)
        plan.outcome = replace(plan.outcome, incident_opened=incident.incident_id)
        return plan

    async def _committed_window(self, fault: str, window: object) -> object:
        """Wait until the window owner's events are in the outbox, so a link never overtakes its ticket."""
        loop = asyncio.get_running_loop()
        deadline, current = loop.time() + self.duplicate_wait, window
        while not current.committed and loop.time() < deadline:  # type: ignore[attr-defined]
            await asyncio.sleep(0.02)
            current = await self.store.fresh_window(fault) or current
        self.store.remember_window(fault, current, now=self.clock.now())  # type: ignore[arg-type]
        return current

    async def _open(self, a: Arrival, snap: Snapshot, now: datetime) -> Plan:
        ticket = ticket_id_for(a.key)
        verdict, area_id = AreaVerdict(AreaKind.STANDALONE), None
        if snap.city:
            area_id = f"{snap.city}|{snap.service}"
            verdict = await self._correlate(area_id, await self._candidate(a, snap, ticket))
        plan = Plan(Outcome(a.key, "opened", ticket_id=ticket, verified=snap.verified))
        incident = verdict.incident
        if verdict.kind is AreaKind.OPENED and incident and snap.city:
            plan.events.append(
                incident_opened(
                    a,
                    incident,
                    city=snap.city,
                    category=snap.category,
                    service=snap.service,
                    rules=self.rules,
                    now=now,
                )
            )
            plan.incident = (area_id or "", incident.incident_id)
            plan.outcome = replace(plan.outcome, incident_opened=incident.incident_id)
        elif incident and area_id and not incident.committed:
            await self._committed_incident(area_id, incident.incident_id)
        parent = incident.incident_id if incident else None
        if not verdict.own_ticket and parent:
            plan.events.append(report_linked(a, ticket_id=parent, link="incident_child", now=now))
            plan.outcome = replace(plan.outcome, status="linked", ticket_id=parent, link="incident_child")
            return plan
        plan.events.append(ticket_opened(a, snap, ticket_id=ticket, parent=parent, rules=self.rules, now=now))
        plan.outcome = replace(plan.outcome, parent_incident_id=parent)
        plan.green = ticket if a.channel is Channel.GREEN_CHANNEL else None
        if not snap.verified and (a.customer_id or a.service_line_id):
            plan.unverified = (ticket, str(snap.tier))
        return plan

    async def _candidate(self, a: Arrival, snap: Snapshot, ticket: str) -> Candidate:
        """The arrival as the mass-outage rule sees it: whether it counts (an ordinary customer's full outage), and
        whether it keeps its own ticket inside an incident (gold and silver tiers, and important customers)."""
        wide = bool(snap.customer_id) and channel.may_be_ordinary(snap)
        wide = wide and await self.store.has_wide_line(snap.customer_id or "")
        own = snap.tier in self.rules.incident_own_ticket_tiers or channel.is_important(snap, wide_line=wide)
        counts = channel.counts_toward_mass_outage(snap, wide_line=wide)
        return Candidate(a.key, channel.reporter(a, snap), a.reported_at, ticket, own, counts)

    async def _correlate(self, area_id: str, candidate: Candidate) -> AreaVerdict:
        """Read, decide, save under the version read; lost races back off a random moment (many arrivals of one
        storm share an area) and decide again on what the winner wrote."""
        pause = 0.002
        for _ in range(100):
            area, version = await self.store.area(area_id)
            after, verdict = correlate_area(area, candidate, self.rules)
            if after == area or await self.store.save_area(area_id, after, version=version):
                return verdict
            await asyncio.sleep(random.uniform(0, pause))
            pause = min(pause * 2, 0.2)
        raise RuntimeError(f"area {area_id} kept changing under us")

    async def _committed_incident(self, area_id: str, incident_id: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.duplicate_wait
        while loop.time() < deadline:
            area, _ = await self.store.area(area_id)
            if not area.incident or area.incident.incident_id != incident_id or area.incident.committed:
                return
            await asyncio.sleep(0.02)

    async def _commit(self, plan: Plan, arrival: Arrival, now: datetime) -> bool:
        """Write what the plan decided; False if another copy of the report committed its outcome first. The events
        go first: whatever may follow them (a link to the window, a back-fill, a TicketVerified) is only written
        once they have their place in the outbox. A crash part-way is finished by the redelivery (same ids)."""
        topic = self.topics.tickets.name
        if plan.events:
            await self.store.enqueue(plan.outcome.report_id, [(topic, e) for e in plan.events], now=now)
            self.wake()
        if plan.green:
            await self.store.add_green(plan.green, plan.outcome.report_id, now=now)
        if plan.unverified:
            await self.store.add_unverified(plan.unverified[0], arrival, plan.unverified[1], now=now)
        if plan.window:
            await self.store.commit_window(*plan.window)  # type: ignore[arg-type]
        if plan.incident:
            await self.store.commit_incident(*plan.incident)
        return await self.store.commit(plan.outcome, [], now=now)

    async def upgrade(self, *, customer_ids: Sequence[str] = (), line_ids: Sequence[str] = ()) -> int:
        """CRM data arrived (a whole batch of it): verify the unverified tickets that name any of these customers or
        lines — one indexed query finds them, two more read their master data, one write queues the upgrades."""
        refs = refs_of(customer_ids=customer_ids, line_ids=line_ids)
        docs = await self.store.unverified_for(refs)
        return await self._verify([(doc["_id"], doc["tier"], arrival_from_doc(doc["arrival"])) for doc in docs])

    async def _verify(self, waiting: list[tuple[str, str, Arrival]]) -> int:
        """Emit TicketVerified for each unverified (ticket, tier opened with, arrival) whose customer and line are
        now all in the replica (read fresh), and forget those tickets; the others keep waiting."""
        if not waiting:
            return 0
        now = self.clock.now()
        masters = await self.store.masters([arrival for _, _, arrival in waiting])
        upgrades: list[tuple[str, list[tuple[str, Event]]]] = []
        for (ticket, tier, arrival), master in zip(waiting, masters, strict=True):
            snap = channel.enrich(arrival, master, self.rules)
            if snap.verified:
                event = ticket_verified(
                    ticket_id=ticket, report_key=arrival.key, snapshot=snap, previous_tier=Tier(tier), now=now
                )
                upgrades.append((f"verified:{ticket}", [(self.topics.tickets.name, event)]))
        if upgrades:
            await self.store.enqueue_many(upgrades, now=now)
            await self.store.drop_unverified(key.removeprefix("verified:") for key, _ in upgrades)
            self.wake()
        return len(upgrades)
