"""sla-watch's HTTP edge: a ticket's clocks, explained; and what this instance holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from sla_watch.domain import ClockState, TicketSla, explain, status_at


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


def http_routers() -> list[APIRouter]:
    router = APIRouter(prefix="/v1", tags=["sla"])

    @router.get("/tickets/{ticket_id}/sla")
    async def ticket_sla(ticket_id: str, request: Request) -> dict[str, Any]:
        """Every SLA clock of a ticket: start, pauses, exclusions, deadline, remaining, status, policy version."""
        runtime = request.app.state.runtime
        watch = runtime.broker.context.get("sla_watch")
        _, events = await watch.ledger(ticket_id)
        sla = watch.replay(events) if events else None
        if sla is None:
            raise HTTPException(404, f"no SLA ledger for ticket {ticket_id}")
        return sla_view(sla, runtime.clock.now())

    @router.get("/timers")
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
