"""Use cases: read the aggregate, let the domain decide, write the decision in one document write.

Shared by the HTTP edge (operator actions) and the Kafka handlers (openings, linked reports, breaches).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from dispatch import store
from dispatch.config_loader import DispatchConfig
from dispatch.domain import automatic
from dispatch.domain.access import Forbidden, can_read
from dispatch.domain.actions import decide
from dispatch.domain.commands import Command, Dispatch, Transfer
from dispatch.domain.lifecycle import Decision
from dispatch.domain.model import Ticket
from dispatch.domain.routing import route
from dispatch.settings import DispatchSettings
from huying.access import Principal
from huying.cache import MISSING, TtlCache
from huying.crm_replica import CrmEvent
from huying.events import (
    ClockKind,
    CustomerUpserted,
    EscalationRaised,
    IncidentOpened,
    ReportLinked,
    SlaBreached,
    SlaClockStarted,
    SlaDeadlineMoved,
    TicketOpened,
    TicketSeverityChanged,
    TicketVerified,
)
from huying.service import Runtime

log = logging.getLogger("dispatch.operations")
CONTEXT_KEY = "dispatch_config"
CUSTOMER_CACHE_KEY = "dispatch_customer_cache"
RETRIES = 10  # consumer-side writes re-read and re-decide on a version conflict (an operator acted meanwhile)


class NotFound(Exception):
    """No such ticket (HTTP 404)."""


class Stale(Exception):
    """The ticket changed since the version the operator acted on (HTTP 409)."""

    def __init__(self, current: int | None) -> None:
        super().__init__(f"the ticket changed meanwhile (now version {current}); reload and try again")
        self.current = current


def config_of(runtime: Runtime) -> DispatchConfig:
    return runtime.broker.context.get(CONTEXT_KEY)


async def customer_of(runtime: Runtime, customer_id: str | None) -> dict[str, Any] | None:
    """The customer shown with a ticket (name, tier, account manager, contacts), from the CRM replica through a
    short in-process cache (`crm_cache_seconds`): an operator's answer may show a CRM change that many seconds
    late; nothing is decided from it."""
    if not customer_id:
        return None
    cache: TtlCache[dict[str, Any] | None] = runtime.broker.context.get(CUSTOMER_CACHE_KEY)
    cached = cache.get(customer_id) if cache is not None else MISSING
    if cached is not MISSING:
        return cached  # type: ignore[return-value]
    found = await store.customer(runtime.db, customer_id)
    if cache is not None:
        cache.put(customer_id, found)
    return found


async def _duty_and_loads(runtime: Runtime, teams: Sequence[str]) -> tuple[dict[str, list[str]], dict[str, int]]:
    roster, now = config_of(runtime).roster, runtime.clock.now()
    duty = {team: roster.on_duty(team, now) for team in teams if team}
    return duty, await store.loads(runtime.db, sorted({m for members in duty.values() for m in members}))


async def _assignees(runtime: Runtime, teams: Sequence[str]) -> dict[str, str | None]:
    duty, loads = await _duty_and_loads(runtime, teams)
    return automatic.assignees_for(list(duty), duty, loads)


def _topic(runtime: Runtime) -> str:
    return runtime.topics.tickets.name


def _purge_after(runtime: Runtime, ticket: Ticket) -> datetime | None:
    """Closed or cancelled work is kept `retention_days` after its last change, then the TTL index deletes it."""
    if ticket.state not in store.TERMINAL:
        return None
    settings = runtime.settings
    assert isinstance(settings, DispatchSettings)
    return runtime.clock.now() + timedelta(days=settings.retention_days)


async def _save(runtime: Runtime, before: Ticket, decision: Decision, consumed: str | None = None) -> bool:
    saved = await store.save(
        runtime.db,
        decision,
        topic=_topic(runtime),
        consumed=consumed,
        purge_after=_purge_after(runtime, decision.ticket),
    )
    if saved:
        await store.shift_loads(runtime.db, before.open_assignees(), decision.ticket.open_assignees())
    return saved


def _wake(runtime: Runtime) -> None:
    if runtime.relay:
        runtime.relay.wake()


async def readable(runtime: Runtime, ticket_id: str, principal: Principal) -> Ticket:
    """The ticket, if this operator may read it (404 / 403 otherwise)."""
    return _check_readable(runtime, ticket_id, await store.load(runtime.db, ticket_id), principal)


async def readable_history(runtime: Runtime, ticket_id: str, principal: Principal) -> tuple[Ticket, list[dict]]:
    """The ticket and its history, in one read, if this operator may read it (404 / 403 otherwise)."""
    ticket, history = await store.load_with_history(runtime.db, ticket_id)
    return _check_readable(runtime, ticket_id, ticket, principal), history


def _check_readable(runtime: Runtime, ticket_id: str, ticket: Ticket | None, principal: Principal) -> Ticket:
    if ticket is None:
        raise NotFound(ticket_id)
    teams = sorted({i.team for i in ticket.work_items})
    if not can_read(principal, teams, list(config_of(runtime).policy.customer_service_teams)):
        raise Forbidden("this ticket belongs to other teams")
    return ticket


async def act(runtime: Runtime, ticket_id: str, command: Command, principal: Principal) -> Ticket:
    """An operator action: 404, 403, 409 (state or stale version) or 422 raised; the new ticket returned."""
    ticket = await readable(runtime, ticket_id, principal)
    if command.expected_version is not None and command.expected_version != ticket.version:
        raise Stale(ticket.version)
    teams = command.teams if isinstance(command, Dispatch) else []
    teams = [command.to_team] if isinstance(command, Transfer) else teams
    assignees = await _assignees(runtime, teams) if teams else {}
    policy = config_of(runtime).policy
    decision = decide(ticket, command, actor=principal, now=runtime.clock.now(), policy=policy, assignees=assignees)
    if not await _save(runtime, ticket, decision):
        raise Stale(await store.version(runtime.db, ticket_id))  # another operator wrote first: never overwrite
    _wake(runtime)
    return decision.ticket


async def open_ticket(runtime: Runtime, event: TicketOpened | IncidentOpened) -> bool:
    """Create, route and dispatch a new ticket; False for a redelivered opening (the ticket id exists)."""
    config = config_of(runtime)
    line = event.service_line_id if isinstance(event, TicketOpened) else None
    cities = await store.service_line_cities(runtime.db, line)
    chosen = route(automatic.routing_input(event, cities), config.rules)
    decision = automatic.open_ticket(
        event,
        route=chosen,
        cities=cities,
        assignees=await _assignees(runtime, chosen.teams),
        now=runtime.clock.now(),
        policy=config.policy,
    )
    created = await store.insert_new(
        runtime.db,
        decision,
        topic=_topic(runtime),
        applied=str(event.event_id),
        purge_after=_purge_after(runtime, decision.ticket),
    )
    if created:
        await store.shift_loads(runtime.db, [], decision.ticket.open_assignees())
        _wake(runtime)
    if isinstance(event, TicketOpened):  # also on a redelivery: finishes what a crash may have left undone
        await _catch_up_tier(runtime, event)
    return created


async def _catch_up_tier(runtime: Runtime, event: TicketOpened) -> None:
    """The customer's tier in dispatch's replica is not the one intake opened the ticket with: intake's replica
    was behind, or the change reached dispatch before the ticket did (and found no ticket to change). The ticket
    follows the replica, as if that CRM record arrived now (same TicketTierChanged id as the CRM path)."""
    doc = await store.crm_customer(runtime.db, event.customer_id)
    if doc is None or doc.get("tier") == str(event.tier) or not doc.get("source_event_id"):
        return
    record = CustomerUpserted(
        event_id=doc["source_event_id"],
        occurred_at=doc["source_time"],
        producer="crm",
        customer_id=doc["_id"],
        name=doc.get("name", ""),
        tier=doc["tier"],
        city=doc.get("city", ""),
        revision=doc.get("revision", 0),
    )
    policy = config_of(runtime).policy

    async def decide_on(ticket: Ticket) -> Decision | None:
        return automatic.change_tier(ticket, record, now=runtime.clock.now(), policy=policy)

    await _apply_consumed(runtime, event.ticket_id, str(record.event_id), decide_on)


async def _apply_consumed(runtime: Runtime, ticket_id: str, event_id: str, decide_on: Any) -> bool:
    """Re-read, decide and write until the write lands on the version read; the event id rides in the same
    write, so a redelivery finds it applied and changes nothing."""
    for _ in range(RETRIES):
        ticket, applied = await store.load_tracked(runtime.db, ticket_id)
        if ticket is None or event_id in applied:
            return False
        decision: Decision | None = await decide_on(ticket)
        if decision is None:
            return False
        if await _save(runtime, ticket, decision, consumed=event_id):
            _wake(runtime)
            return True
    raise RuntimeError(f"ticket {ticket_id} kept changing; gave up applying {event_id}")


async def link_report(runtime: Runtime, event: ReportLinked) -> bool:
    """Attach a further report to its ticket's record."""
    policy = config_of(runtime).policy

    async def decide_on(ticket: Ticket) -> Decision:
        return automatic.link_report(ticket, event, now=runtime.clock.now(), policy=policy)

    if await store.version(runtime.db, event.ticket_id) is None:
        raise LookupError(f"ReportLinked for unknown ticket {event.ticket_id}")  # dead-lettered, not lost
    return await _apply_consumed(runtime, event.ticket_id, str(event.event_id), decide_on)


async def acceptance_breached(runtime: Runtime, breach: SlaBreached) -> bool:
    """Re-dispatch or escalate a work item its team did not accept in time (as the routing rules say)."""
    if breach.clock != ClockKind.ACCEPTANCE or not breach.subject:
        return False
    config = config_of(runtime)

    async def decide_on(ticket: Ticket) -> Decision | None:
        item = next((i for i in ticket.work_items if i.team == breach.subject), None)
        target = config.rules.breach_policy(item.rule if item else None).escalate_to
        duty, loads = await _duty_and_loads(runtime, [breach.subject or "", target or ""])
        return automatic.on_acceptance_breach(
            ticket, breach, rules=config.rules, duty=duty, loads=loads, now=runtime.clock.now(), policy=config.policy
        )

    return await _apply_consumed(runtime, breach.ticket_id, str(breach.event_id), decide_on)


async def leader_informed(runtime: Runtime, escalation: EscalationRaised) -> bool:
    """sla-watch escalated: the leader informed is recorded on the ticket, `LeaderInformed` published."""
    policy = config_of(runtime).policy

    async def decide_on(ticket: Ticket) -> Decision | None:
        return automatic.leader_informed(ticket, escalation, now=runtime.clock.now(), policy=policy)

    return await _apply_known(runtime, escalation.ticket_id, str(escalation.event_id), decide_on, escalation.type)


async def severity_marked(runtime: Runtime, event: TicketSeverityChanged) -> bool:
    """The fault passed the severe mark: the ticket records its severity."""
    policy = config_of(runtime).policy

    async def decide_on(ticket: Ticket) -> Decision | None:
        return automatic.severity_marked(ticket, event, now=runtime.clock.now(), policy=policy)

    return await _apply_known(runtime, event.ticket_id, str(event.event_id), decide_on, event.type)


async def restore_deadline(runtime: Runtime, event: SlaClockStarted | SlaDeadlineMoved) -> bool:
    """The restore clock's deadline, kept for the queue's order (a ticket dispatch has not seen: nothing to do)."""
    if event.clock != ClockKind.RESTORE:
        return False
    policy = config_of(runtime).policy

    async def decide_on(ticket: Ticket) -> Decision | None:
        return automatic.restore_deadline_moved(ticket, event, now=runtime.clock.now(), policy=policy)

    return await _apply_consumed(runtime, event.ticket_id, str(event.event_id), decide_on)


async def _apply_known(runtime: Runtime, ticket_id: str, event_id: str, decide_on: Any, what: str) -> bool:
    """As `_apply_consumed`, for an event about a ticket dispatch must hold. sla-watch answers an opening from the
    same log dispatch reads it from (an immediate leadership escalation may come before dispatch stored the ticket):
    an unknown ticket is waited for `unknown_ticket_grace_seconds`, then the event is dead-lettered (replayable once
    the ticket exists), never dropped."""
    settings = runtime.settings
    assert isinstance(settings, DispatchSettings)
    waited, step = 0.0, 0.1
    while await store.version(runtime.db, ticket_id) is None:
        if waited >= settings.unknown_ticket_grace_seconds:
            raise LookupError(f"{what} for unknown ticket {ticket_id}")
        await asyncio.sleep(step)
        waited += step
    return await _apply_consumed(runtime, ticket_id, event_id, decide_on)


async def verify(runtime: Runtime, event: TicketVerified) -> bool:
    """Intake verified a ticket it opened without CRM data: the ticket takes its tier, scope and category."""
    policy = config_of(runtime).policy

    async def decide_on(ticket: Ticket) -> Decision | None:
        return automatic.verify(ticket, event, now=runtime.clock.now(), policy=policy)

    if await store.version(runtime.db, event.ticket_id) is None:
        raise LookupError(f"TicketVerified for unknown ticket {event.ticket_id}")  # dead-lettered, not lost
    return await _apply_consumed(runtime, event.ticket_id, str(event.event_id), decide_on)


async def follow_customer_tiers(runtime: Runtime, events: Sequence[CrmEvent]) -> int:
    """CRM changed customers (one consumed batch): their live tickets take the new tier (TicketTierChanged). Run
    after the replica took the batch; a record whose tier is not the replica's decides nothing (a newer one did),
    and of a customer's records carrying that tier the batch's first decides. Two queries for the whole batch
    (the customers, then their tickets), then one read and write per ticket to change. Returns tickets changed."""
    upserts = [e for e in events if isinstance(e, CustomerUpserted)]
    current = await store.crm_customers(runtime.db, [e.customer_id for e in upserts])
    deciding: dict[str, CustomerUpserted] = {}
    for event in upserts:
        doc = current.get(event.customer_id)
        if doc is not None and doc.get("tier") == str(event.tier):
            deciding.setdefault(event.customer_id, event)
    policy, changed = config_of(runtime).policy, 0
    tiers = {customer_id: str(event.tier) for customer_id, event in deciding.items()}
    for customer_id, ticket_id in await store.tickets_off_tier(runtime.db, tiers):
        record = deciding[customer_id]

        async def decide_on(ticket: Ticket, record: CustomerUpserted = record) -> Decision | None:
            return automatic.change_tier(ticket, record, now=runtime.clock.now(), policy=policy)

        changed += await _apply_consumed(runtime, ticket_id, str(record.event_id), decide_on)
    return changed
