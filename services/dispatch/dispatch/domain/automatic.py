"""What dispatch decides by itself: opening and routing a ticket, linking reports, acting on acceptance breaches."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dispatch.domain.access import SYSTEM
from dispatch.domain.actions import _new_items, leader_recorded, transferred
from dispatch.domain.duty import duty_notifications, new_contractors
from dispatch.domain.lifecycle import Ctx, Decision, Policy, decided
from dispatch.domain.model import ACTIVE, HistoryEntry, ItemStatus, LeaderRecord, State, Ticket, snapshot
from dispatch.domain.roster import pick_assignee
from dispatch.domain.routing import Route, RoutingInput, RoutingRules
from huying.access import Principal, Role
from huying.events import (
    ClockKind,
    CustomerUpserted,
    EscalationRaised,
    IncidentOpened,
    LeaderInformed,
    ReportLinked,
    SlaBreached,
    SlaClockStarted,
    SlaDeadlineMoved,
    TicketDispatched,
    TicketOpened,
    TicketSeverityChanged,
    TicketTierChanged,
    TicketVerified,
    Tier,
)

Duty = Mapping[str, Sequence[str]]  # team → members on duty now


def assignees_for(teams: Sequence[str], duty: Duty, loads: Mapping[str, int], avoid: Sequence[str] = ()) -> dict:
    """The least-loaded member on duty of each team (None: nobody on duty, the team's queue holds it)."""
    return {team: pick_assignee(duty.get(team, ()), loads, avoid=avoid) for team in teams}


def routing_input(event: TicketOpened | IncidentOpened, cities: Sequence[str] = ()) -> RoutingInput:
    """What routing needs from an opening event (cities: every endpoint city of the line, from the CRM replica)."""
    if isinstance(event, IncidentOpened):
        return RoutingInput(kind="incident", category=event.category, city=event.city, severity=event.severity)
    return RoutingInput(
        category=event.category,
        city=event.city,
        cities=tuple(c for c in cities if c != event.city),
        scope=event.scope,
        tier=event.tier,
        severity=event.severity,
        core_network=event.core_network,
    )


def _opened_ticket(event: TicketOpened | IncidentOpened, cities: Sequence[str]) -> Ticket:
    common: dict[str, Any] = {
        "ticket_id": event.ticket_id,
        "opened_at": event.occurred_at,
        "reported_at": event.reported_at,
        "correlation_id": event.correlation_id,
        "category": event.category,
        "city": event.city,
        "severity": event.severity,
        "description": getattr(event, "description", "") or getattr(event, "reason", ""),
    }
    if isinstance(event, IncidentOpened):
        return Ticket(kind="incident", **common)
    return Ticket(
        **common,
        customer_id=event.customer_id,
        service_line_id=event.service_line_id,
        tier=event.tier,
        scope=event.scope,
        cities=list(cities),
        core_network=event.core_network,
        verified=event.verified,
        terminal_only=event.terminal_only,
        channel=event.channel,
        contact=event.contact.model_dump() if event.contact else None,
        parent_incident_id=event.parent_incident_id,
        assurance_level=event.assurance_level,
    )


def _who(event: Any) -> Principal:
    return Principal(sub=getattr(event, "actor", None) or event.producer, role=Role.ADMIN, name=event.producer)


def open_ticket(
    event: TicketOpened | IncidentOpened,
    *,
    route: Route,
    cities: Sequence[str],
    assignees: dict[str, str | None],
    now: datetime,
    policy: Policy,
) -> Decision:
    """A new ticket, dispatched at once to every team its route names (one work item each)."""
    ticket = _opened_ticket(event, cities)
    opened = HistoryEntry(
        at=event.occurred_at,
        actor=_who(event).sub,
        role="system",
        action="open",
        before={},
        after=snapshot(ticket),
        details={"type": event.type},
        event_ids=[str(event.event_id)],
    )
    ctx = Ctx(ticket, SYSTEM, now, policy, assignees, causation_id=str(event.event_id))
    items = _new_items(ctx, list(route.teams), route.rule)
    contractors = new_contractors(ctx, route.teams, route.contractors, route.rule)
    after = ticket.model_copy(
        update={"state": State.DISPATCHED, "route": route.rule, "work_items": items, "contractors": contractors}
    )
    names = [c.contractor for c in contractors]
    events = [ctx.event(TicketDispatched, teams=list(route.teams), contractors=names), *duty_notifications(ctx, items)]
    dispatched = decided(ctx, after, events, "dispatch", {"rule": route.rule, "contractors": names})
    return Decision(dispatched.ticket, dispatched.events, [opened, *dispatched.history])


def link_report(ticket: Ticket, event: ReportLinked, *, now: datetime, policy: Policy) -> Decision:
    """A further report attached by intake: kept on the ticket and in its history (no event: intake sent one)."""
    report = event.model_dump(mode="json", include={"source_system", "external_id", "channel", "reported_at", "link"})
    ctx = Ctx(ticket, _who(event), now, policy, causation_id=str(event.event_id))
    after = ticket.model_copy(update={"linked_reports": [*ticket.linked_reports, report]})
    return decided(ctx, after, [], "report_linked", report)


TIER_EVENTS = uuid.UUID("6f1d3c1e-6a7e-4d43-9b57-2f3c1f0c8a11")  # namespace of TicketTierChanged ids
# A ticket follows its customer's tier while live: open, or resolved and still owing its written report.
FOLLOWS_TIER = ACTIVE | {State.RESOLVED, State.CONFIRMED}


def follows_customer_tier(ticket: Ticket) -> bool:
    """Tier changes apply to verified fault tickets that are live and not terminal-only (those stay standard)."""
    return ticket.kind == "ticket" and ticket.verified and not ticket.terminal_only and ticket.state in FOLLOWS_TIER


def change_tier(ticket: Ticket, customer: CustomerUpserted, *, now: datetime, policy: Policy) -> Decision | None:
    """The customer's tier changed in CRM: the ticket takes it and says so on its partition (TicketTierChanged, id
    derived from the ticket and the CRM event, so a redelivery sends the same one). None: nothing to change."""
    if not follows_customer_tier(ticket) or ticket.customer_id != customer.customer_id or ticket.tier == customer.tier:
        return None
    ctx = Ctx(ticket, SYSTEM, now, policy, causation_id=str(customer.event_id))
    changed = TicketTierChanged(
        event_id=uuid.uuid5(TIER_EVENTS, f"{ticket.ticket_id}|{customer.event_id}"),
        ticket_id=ticket.ticket_id,
        actor="crm",
        producer=policy.producer,
        occurred_at=max(customer.occurred_at, ticket.opened_at),  # never before the ticket existed
        correlation_id=ticket.correlation_id,
        causation_id=str(customer.event_id),
        customer_id=customer.customer_id,
        tier=customer.tier,
        previous_tier=Tier(ticket.tier or Tier.STANDARD),
        crm_revision=customer.revision,
    )
    after = ticket.model_copy(update={"tier": str(customer.tier)})
    return decided(ctx, after, [changed], "tier_changed", {"crm_revision": customer.revision})


def verify(ticket: Ticket, event: TicketVerified, *, now: datetime, policy: Policy) -> Decision | None:
    """Intake found the CRM data of a ticket it opened unverified: the ticket takes the snapshot (no event: intake
    sent one). None if it was verified already."""
    if ticket.verified:
        return None
    ctx = Ctx(ticket, _who(event), now, policy, causation_id=str(event.event_id))
    after = ticket.model_copy(
        update={
            "verified": True,
            "tier": str(event.tier),
            "scope": str(event.scope),
            "category": str(event.category),
            "city": event.city or ticket.city,
            "customer_id": event.customer_id or ticket.customer_id,
            "service_line_id": event.service_line_id or ticket.service_line_id,
            "assurance_level": event.assurance_level,
        }
    )
    return decided(ctx, after, [], "verified", {"previous_tier": str(event.previous_tier)})


def on_acceptance_breach(
    ticket: Ticket,
    breach: SlaBreached,
    *,
    rules: RoutingRules,
    duty: Duty,
    loads: Mapping[str, int],
    now: datetime,
    policy: Policy,
) -> Decision | None:
    """Not accepted within 10 minutes: re-dispatch within the team (another member if there is one), then
    escalate to the rule's escalation team; None when the breach is stale (accepted, moved or re-dispatched)."""
    item = next((i for i in ticket.work_items if i.team == breach.subject and i.status == ItemStatus.DISPATCHED), None)
    if item is None or item.dispatched_at >= breach.deadline or ticket.state not in _OPEN_STATES:
        return None
    rule = rules.breach_policy(item.rule)
    tried = [*item.previous_assignees, *([item.assignee] if item.assignee else [])]
    marked = item.model_copy(update={"breaches": item.breaches + 1, "previous_assignees": tried})
    base = ticket.model_copy(update={"work_items": ticket.replace_item(item, marked)})
    details = {"team": item.team, "deadline": breach.deadline.isoformat(), "breach": marked.breaches}
    ctx = Ctx(ticket, SYSTEM, now, policy, causation_id=str(breach.event_id))
    if item.breaches < rule.redispatch:
        fresh = marked.model_copy(
            update={"dispatched_at": now, "assignee": pick_assignee(duty.get(item.team, ()), loads, avoid=tried)}
        )
        after = ticket.model_copy(update={"work_items": ticket.replace_item(item, fresh)})
        event = ctx.event(TicketDispatched, teams=[item.team], redispatch=True)
        return decided(ctx, after, [event, *duty_notifications(ctx, [fresh])], "redispatch", details)
    target = rule.escalate_to
    if target and target != item.team and target not in ticket.open_teams():
        assignees = assignees_for([target], duty, loads)
        moved = transferred(Ctx(base, SYSTEM, now, policy, assignees, ctx.causation_id), marked, target, ESCALATED, "")
        return decided(ctx, moved.ticket, moved.events, "escalate", {**details, "to_team": target})
    return decided(ctx, base, [], "acceptance_breach", details)  # nowhere left to escalate: recorded


ESCALATED = "not accepted within the acceptance time: escalated"

_OPEN_STATES = frozenset({State.DISPATCHED, State.ACCEPTED, State.IN_PROGRESS, State.SUSPENDED})


LEADER_EVENTS = uuid.UUID("0b7f6a52-3c1e-4f0a-9d2b-6e8c4a1f5d37")  # namespace of LeaderInformed ids


def leader_informed(ticket: Ticket, escalation: EscalationRaised, *, now: datetime, policy: Policy) -> Decision | None:
    """sla-watch escalated (120 min: the director, 180 min: the deputy GM, gold/silver full outage: the leadership at
    once): the leader informed is recorded on the ticket with when and by whom (seed 000 rule 8), and `LeaderInformed`
    published under an id derived from the ticket and the escalation, so a redelivery sends the same one. None: this
    escalation is on the ticket already."""
    if any(r.escalation_event_id == str(escalation.event_id) for r in ticket.leaders_informed):
        return None
    record = LeaderRecord(
        audience=escalation.audience,
        informed_at=max(escalation.occurred_at, ticket.opened_at),
        informed_by=escalation.producer,
        escalation_event_id=str(escalation.event_id),
    )
    actor = Principal(sub=escalation.producer, role=Role.ADMIN, name=escalation.producer)
    ctx = Ctx(ticket, actor, now, policy, causation_id=str(escalation.event_id))
    decision = leader_recorded(
        ctx, record, "leader_informed", event_id=uuid.uuid5(LEADER_EVENTS, f"{ticket.ticket_id}|{escalation.event_id}")
    )
    [event] = decision.events
    assert isinstance(event, LeaderInformed)
    return decision


def severity_marked(ticket: Ticket, event: TicketSeverityChanged, *, now: datetime, policy: Policy) -> Decision | None:
    """sla-watch says the fault passed the severe mark (seed 003): the ticket takes the severity and when it was
    marked (no event: sla-watch sent one). None when the ticket has that severity already (a redelivery, or a
    ticket opened severe)."""
    if ticket.severity == str(event.severity):
        return None
    ctx = Ctx(ticket, _who(event), now, policy, causation_id=str(event.event_id))
    after = ticket.model_copy(update={"severity": str(event.severity), "severe_since": event.marked_at})
    details = {"reason": event.reason, "outage_started_at": event.outage_started_at.isoformat()}
    return decided(ctx, after, [], "severity_changed", details)


def restore_deadline_moved(
    ticket: Ticket, event: SlaClockStarted | SlaDeadlineMoved, *, now: datetime, policy: Policy
) -> Decision | None:
    """The restore clock's deadline as sla-watch says it (started, paused: none, resumed, moved), kept for the
    queue's order. None when it is not the restore clock or the deadline is the one the ticket has."""
    if event.clock != ClockKind.RESTORE:
        return None
    deadline = event.deadline if isinstance(event, SlaClockStarted) else event.new_deadline
    if deadline == ticket.restore_deadline:
        return None
    ctx = Ctx(ticket, _who(event), now, policy, causation_id=str(event.event_id))
    after = ticket.model_copy(update={"restore_deadline": deadline})
    return decided(ctx, after, [], "restore_deadline", {"type": event.type})
