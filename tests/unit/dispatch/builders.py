"""Builders for dispatch's unit tests: operators, opening events, and tickets walked to any state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dispatch.config_loader import DispatchConfig, config_from
from dispatch.domain import commands as c
from dispatch.domain.actions import decide
from dispatch.domain.automatic import open_ticket, routing_input
from dispatch.domain.lifecycle import Decision
from dispatch.domain.model import State, Ticket
from dispatch.domain.routing import route
from dispatch.settings import DispatchSettings
from huying.access import Principal, Role
from huying.events import SlaBreached, TicketOpened

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
CONFIG: DispatchConfig = config_from(DispatchSettings())

AGENT = Principal(sub="op-gz-01", role=Role.AGENT, teams=["gz-access-ops"])
AGENT2 = Principal(sub="op-gz-02", role=Role.AGENT, teams=["gz-access-ops"])
OTHER = Principal(sub="op-sz-01", role=Role.AGENT, teams=["sz-access-ops"])
SZ_LEAD = Principal(sub="op-sz-02", role=Role.TEAM_LEAD, teams=["sz-access-ops"])
CORE = Principal(sub="op-core-01", role=Role.AGENT, teams=["prov-core-network"])
SUPERVISOR = Principal(sub="sup-gd-01", role=Role.SUPERVISOR, teams=["gd-duty-supervisors"])
CS = Principal(sub="cs-01", role=Role.AGENT, teams=["cs-10086"])
ADMIN = Principal(sub="admin-01", role=Role.ADMIN)


def opened(ticket_id: str = "T-1", **overrides: Any) -> TicketOpened:
    fields: dict[str, Any] = {
        "ticket_id": ticket_id,
        "source_system": "10086-cc",
        "external_id": f"CC-{ticket_id}",
        "channel": "hotline",
        "customer_id": "C-01-0001",
        "service_line_id": "L-01-0001-01",
        "tier": "gold",
        "scope": "intra_city",
        "category": "access",
        "city": "广州",
        "reported_at": T0 - timedelta(minutes=5),
        "occurred_at": T0 - timedelta(minutes=4),
        "producer": "intake",
        "correlation_id": f"rpt-{ticket_id}",
        "contact": {"name": "王伟", "phone": "13800138000", "email": "wangwei@example.com"},
    }
    return TicketOpened(**(fields | overrides))


def new_ticket(event: TicketOpened | None = None, cities: tuple[str, ...] = (), at: datetime = T0) -> Decision:
    event = event or opened()
    chosen = route(routing_input(event, cities), CONFIG.rules)
    assignees = {t: CONFIG.roster.on_duty(t, at)[0] if CONFIG.roster.on_duty(t, at) else None for t in chosen.teams}
    return open_ticket(event, route=chosen, cities=cities, assignees=assignees, now=at, policy=CONFIG.policy)


def act(ticket: Ticket, command: c.Command, actor: Principal, at: datetime = T0, **kw: Any) -> Ticket:
    return decide(ticket, command, actor=actor, now=at, policy=CONFIG.policy, **kw).ticket


CONSENT = {"by": "王伟", "method": "phone", "at": T0}
RESTORED = {"cause": "光缆被施工挖断", "cause_category": "third_party", "restored_at": T0 + timedelta(minutes=50)}

FOLLOW_UP = {"called_by": "cs-01", "method": "phone", "called_at": T0 + timedelta(hours=1), "reached": "王伟"}

STEPS: list[tuple[State, c.Command, Principal]] = [
    (State.ACCEPTED, c.Accept(), AGENT),
    (State.IN_PROGRESS, c.NoteProgress(note="已定位", customer_informed=True), AGENT),
    (State.SUSPENDED, c.Suspend(reason="客户机房断电", consent=CONSENT), SUPERVISOR),
    (State.IN_PROGRESS, c.Resume(), AGENT),
    (State.RESOLVED, c.Resolve(**RESTORED), AGENT),
    (State.CONFIRMED, c.ConfirmRestoration(), CS),
    (State.CLOSED, c.Close(), CS),
]


def ticket_in(state: State, at: datetime = T0 + timedelta(hours=1)) -> Ticket:
    """A single-team gold ticket walked through the lifecycle to `state`."""
    ticket = new_ticket().ticket
    if state == State.OPENED:
        return ticket.model_copy(update={"state": State.OPENED, "work_items": []})
    if state == State.CANCELLED:
        return act(ticket, c.Cancel(reason="重复报障"), SUPERVISOR, at)
    for reached, command, actor in STEPS:
        if ticket.state == state:
            break
        ticket = act(ticket, command, actor, at)
        if reached == state:
            break
    assert ticket.state == state
    return ticket


def breach(ticket: Ticket, team: str, deadline: datetime, **kw: Any) -> SlaBreached:
    return SlaBreached(
        ticket_id=ticket.ticket_id, clock="acceptance", subject=team, policy_version="2026.1", deadline=deadline, **kw
    )


# A valid command for every action, to show that only the state decides 409s.
SAMPLES: dict[str, c.Command] = {
    "dispatch": c.Dispatch(teams=["sz-access-ops"]),
    "accept": c.Accept(),
    "contact": c.RecordContact(contacted_at=T0),
    "progress": c.NoteProgress(note="x"),
    "transfer": c.Transfer(to_team="prov-core-network", reason="核心网"),
    "suspend": c.Suspend(reason="x", consent=CONSENT),
    "approve_suspension": c.ApproveSuspension(),
    "resume": c.Resume(),
    "exclusion": c.RecordExclusion(kind="interconnection", start=T0, end=T0 + timedelta(minutes=5), reason="x"),
    "resolve": c.Resolve(**RESTORED),
    "confirm": c.ConfirmRestoration(),
    "close": c.Close(),
    "reopen": c.Reopen(reason="x"),
    "cancel": c.Cancel(reason="x"),
    "request_fault_report": c.RequestFaultReport(requested_by="王伟"),
    "submit_fault_report": c.SubmitFaultReport(document_ref="FR-1"),
    "satisfaction": c.RecordSatisfaction(satisfied=True, **FOLLOW_UP),
    "inform_leader": c.RecordLeaderInformed(audience="director", leader="陈总", informed_at=T0),
    "quality_check": c.QualityCheck(result="passed"),
}
