"""The ticket state machine: which action is allowed in which state, and what a decision produces.

opened → dispatched → accepted → in_progress ⇄ suspended → resolved → confirmed → closed;
reopen from resolved / confirmed / closed within the reopen window; cancel and transfer from any active state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dispatch.domain.causes import NoticeRule
from dispatch.domain.model import HistoryEntry, ItemStatus, State, Ticket, diff
from dispatch.domain.roster import Staff
from huying.access import Principal
from huying.events import TicketEvent

_ACTIVE = ("dispatch", "transfer", "cancel", "request_fault_report", "inform_leader")
_WORKING = ("accept", "contact", "progress", "exclusion", *_ACTIVE)
_AFTER = ("progress", "exclusion", "reopen", "request_fault_report", "submit_fault_report", "inform_leader")
_RETURNED = ("quality_check",)  # the monitoring center checks returned (返单) tickets: resolved, confirmed, closed

ALLOWED: dict[State, frozenset[str]] = {
    State.OPENED: frozenset({"dispatch", "cancel", "request_fault_report", "inform_leader"}),
    State.DISPATCHED: frozenset({"accept", *_ACTIVE}),
    State.ACCEPTED: frozenset({"resolve", *_WORKING}),
    State.IN_PROGRESS: frozenset({"resolve", "suspend", "approve_suspension", *_WORKING}),
    State.SUSPENDED: frozenset({"resume", *_WORKING}),
    State.RESOLVED: frozenset({"confirm", *_AFTER, *_RETURNED}),
    State.CONFIRMED: frozenset({"close", *_AFTER, *_RETURNED}),
    State.CLOSED: frozenset(
        {"reopen", "satisfaction", "request_fault_report", "submit_fault_report", "inform_leader", *_RETURNED}
    ),
    State.CANCELLED: frozenset(),
}


def allowed_actions(ticket: Ticket) -> list[str]:
    """The actions the ticket's state allows now (who may take them is a separate question)."""
    allowed = set(ALLOWED[State(ticket.state)])
    if not ticket.items(ItemStatus.DISPATCHED):
        allowed.discard("accept")
    if not ticket.items(ItemStatus.ACCEPTED):
        allowed.discard("resolve")
    if ticket.suspension_request is None:
        allowed.discard("approve_suspension")
    if ticket.fault_report_ref is not None:
        allowed.discard("submit_fault_report")
    if ticket.satisfied is not None:
        allowed.discard("satisfaction")
    return sorted(allowed)


class InvalidTransition(Exception):
    """The action is not allowed in the ticket's current state (HTTP 409 with the state and allowed actions)."""

    def __init__(self, message: str, ticket: Ticket) -> None:
        super().__init__(message)
        self.state = str(ticket.state)
        self.allowed = allowed_actions(ticket)


class InvalidCommand(Exception):
    """The command contradicts itself or the ticket's facts (HTTP 422 naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Policy:
    """Lifecycle settings that are configuration, not code."""

    reopen_window: timedelta = timedelta(days=7)
    customer_service_teams: tuple[str, ...] = ()
    known_teams: frozenset[str] = frozenset()
    dedicated_notice: NoticeRule = field(default_factory=NoticeRule)
    producer: str = "dispatch"
    staff: Mapping[str, Staff] = field(default_factory=dict)  # member → name and phone (the duty notification)
    team_contractors: Mapping[str, Sequence[str]] = field(default_factory=dict)  # team → its 代维


@dataclass
class Ctx:
    """One decision's inputs: the ticket as read, who acts, when, and with which policy and assignees."""

    ticket: Ticket
    actor: Principal
    now: datetime
    policy: Policy
    assignees: dict[str, str | None] = field(default_factory=dict)  # team → member picked by the roster
    causation_id: str | None = None

    def event(self, cls: type[TicketEvent], **fields: Any) -> TicketEvent:
        """An event of this ticket, stamped with the actor, the time and the ticket's correlation id."""
        return cls(
            ticket_id=self.ticket.ticket_id,
            actor=self.actor.sub,
            producer=self.policy.producer,
            occurred_at=self.now,
            correlation_id=self.ticket.correlation_id,
            causation_id=self.causation_id,
            **fields,
        )

    def customer_service(self) -> bool:
        return any(self.actor.member_of(t) for t in self.policy.customer_service_teams)


@dataclass(frozen=True)
class Decision:
    """What a decision returns for one single-document write: the new ticket, its events, its history lines."""

    ticket: Ticket
    events: list[TicketEvent]
    history: list[HistoryEntry]


def decided(
    ctx: Ctx, after: Ticket, events: list[TicketEvent], action: str, details: dict[str, Any] | None = None
) -> Decision:
    """Seal a decision: bump the version and write the history line (actor, time, before/after, event ids)."""
    after = after.model_copy(update={"version": ctx.ticket.version + 1})
    before_values, after_values = diff(ctx.ticket, after)
    entry = HistoryEntry(
        at=ctx.now,
        actor=ctx.actor.sub,
        role=str(ctx.actor.role),
        action=action,
        before=before_values,
        after=after_values,
        details=details or {},
        event_ids=[str(e.event_id) for e in events],
    )
    return Decision(after, events, [entry])
