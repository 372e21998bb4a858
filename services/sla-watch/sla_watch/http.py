"""sla-watch's HTTP edge: a ticket's clocks, explained; and what this instance holds. Operators only (huying.auth):
a ticket's clocks for its teams, customer service, supervisors and admins; the timers for supervisors and admins.
The view holds no personal data (clocks, teams, times, the policy's words)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Security

from huying.access import Permission, Principal, reads_ticket
from huying.auth import OPERATOR_RESPONSES, forbidden, require
from huying.events import TicketDispatched, TicketEvent, TicketTransferred
from sla_watch.domain import ClockState, TicketSla, explain, status_at

SLA_READER = require(Permission.SLA_READ)
TIMERS_READER = require(Permission.SLA_TIMERS)


def _clock(state: ClockState, now: datetime) -> dict[str, Any]:
    seen = status_at(state, now=now)
    return {
        "clock": state.kind.value,
        "seq": state.seq,
        "subject": state.subject,
        "started_at": state.started_at,
        "deadline": state.deadline,
        "warn_at": state.warn_at,
        "allowance_seconds": state.budget_s,
        "not_counted": [{"start": s, "end": e} for s, e in state.gaps],
        "status": "paused" if seen.paused else ("overdue" if seen.overdue and state.running else state.outcome.value),
        "stopped_at": state.stopped_at,
        "elapsed_seconds": round(seen.elapsed_s, 3),
        "remaining_seconds": None if seen.remaining_s is None else round(seen.remaining_s, 3),
        "used_ratio": round(seen.used_ratio, 4),
        "provisional": state.provisional,
        "retroactive": state.retroactive,
    }


def sla_view(sla: TicketSla, now: datetime) -> dict[str, Any]:
    """Every clock of the ticket as of `now`, with the ticket's pauses, exclusions and the ledger in words."""
    return {
        "ticket_id": sla.ticket_id,
        "policy_version": sla.policy_version,
        "tier": sla.tier.value,
        "scope": sla.scope.value,
        "status": sla.status,
        "as_of": now,
        "clocks": [_clock(c, now) for c in sla.clocks],
        "suspensions": [{"start": s, "end": e} for s, e in sla.suspensions],
        "exclusions": [{"start": s, "end": e} for s, e in sla.exclusions],
        "explanation": list(explain(sla)),
    }


def ticket_teams(events: Iterable[TicketEvent]) -> set[str]:
    """Every team that has or had a work item on the ticket (dispatched to it, or transferred from or to it), as
    dispatch counts the teams whose members may read it."""
    teams: set[str] = set()
    for event in events:
        if isinstance(event, TicketDispatched):
            teams.update(event.teams)
        elif isinstance(event, TicketTransferred):
            teams.update((event.from_team, event.to_team))
    return teams


def http_routers() -> list[APIRouter]:
    router = APIRouter(prefix="/v1", tags=["sla"], responses=OPERATOR_RESPONSES)

    @router.get("/tickets/{ticket_id}/sla", responses={404: {"description": "No ledger for this ticket."}})
    async def ticket_sla(
        ticket_id: str, request: Request, principal: Principal = Security(SLA_READER)
    ) -> dict[str, Any]:
        """Every SLA clock of a ticket: start, pauses, exclusions, deadline, remaining, status, policy version.
        Agents and team leads: tickets of their teams only (customer service: every ticket)."""
        runtime = request.app.state.runtime
        watch = runtime.broker.context.get("sla_watch")
        _, events = await watch.ledger(ticket_id)
        sla = watch.replay(events) if events else None
        if sla is None:
            raise HTTPException(404, f"no SLA ledger for ticket {ticket_id}")
        if not reads_ticket(principal, ticket_teams(events), runtime.settings.customer_service_teams):
            raise forbidden("this ticket belongs to other teams")
        return sla_view(sla, runtime.clock.now())

    @router.get("/timers", dependencies=[Security(TIMERS_READER)])
    async def timers(request: Request) -> dict[str, Any]:
        """This instance's share of the work: owned partitions, pending timers, fired so far."""
        watch = request.app.state.runtime.broker.context.get("sla_watch")
        scheduler = watch.scheduler
        return {
            "partitions": sorted(scheduler.owned),
            "loading": sorted(scheduler.loading),
            "pending": scheduler.pending,
            "next_due": scheduler.next_due(),
            "fired": scheduler.fired_count,
            "skipped_stale_warnings": scheduler.skipped_count,
        }

    return [router]
