"""Operator actions: each checks who acts and on which work item, then returns the new ticket and its events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dispatch.domain import commands as c
from dispatch.domain.access import Forbidden
from dispatch.domain.causes import follow_ups_after, ticket_category
from dispatch.domain.duty import duty_notifications, new_contractors, with_contractors
from dispatch.domain.lifecycle import Ctx, Decision, InvalidCommand, InvalidTransition, Policy, allowed_actions, decided
from dispatch.domain.model import (
    ContactResult,
    ItemStatus,
    LeaderRecord,
    QualityCheck,
    State,
    Suspension,
    Ticket,
    WorkItem,
)
from huying import events as ev
from huying.access import Principal, Role

CLOCK_SKEW = timedelta(minutes=2)  # operators' clocks and typing: a stated time may be this far "in the future"


def decide(
    ticket: Ticket,
    command: c.Command,
    *,
    actor: Principal,
    now: datetime,
    policy: Policy,
    assignees: dict[str, str | None] | None = None,
) -> Decision:
    """Apply one operator command: 409 if the state forbids it, 403 if this operator may not, 422 if it is wrong."""
    if command.action not in allowed_actions(ticket):
        raise InvalidTransition(f"cannot {command.action} a ticket that is {ticket.state}", ticket)
    ctx = Ctx(ticket, actor, now, policy, dict(assignees or {}))
    return _ACTIONS[type(command)](ctx, command)


def _not_future(name: str, value: datetime, ctx: Ctx) -> None:
    if value > ctx.now + CLOCK_SKEW:
        raise InvalidCommand(name, "is in the future")


def my_item(ctx: Ctx, team: str | None, *statuses: ItemStatus, supervisor_may: bool = False) -> WorkItem:
    """The work item the actor acts on: of one of their teams (only the assigned team acts on its work item)."""
    items = ctx.ticket.items(*statuses)
    allowed = supervisor_may and ctx.actor.is_role(Role.SUPERVISOR)
    mine = [i for i in items if (team is None or i.team == team) and (allowed or ctx.actor.member_of(i.team))]
    if len({i.team for i in mine}) > 1:
        raise InvalidCommand("team", f"you have several work items ({sorted({i.team for i in mine})}): name one")
    if mine:
        return mine[0]
    teams_here = {i.team for i in ctx.ticket.work_items if i.status != ItemStatus.TRANSFERRED}
    if allowed or any(ctx.actor.member_of(t) for t in teams_here):
        wanted = "/".join(str(s) for s in statuses)
        raise InvalidTransition(f"no {wanted} work item of {team or 'your teams'} on this ticket", ctx.ticket)
    raise Forbidden("only the assigned team acts on its work item")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise Forbidden(message)


def _team_or_supervisor(ctx: Ctx, *statuses: ItemStatus) -> None:
    if ctx.actor.is_role(Role.SUPERVISOR) or ctx.customer_service():
        return
    my_item(ctx, None, *statuses)


def _new_items(ctx: Ctx, teams: list[str], rule: str | None = None) -> list[WorkItem]:
    unknown = [t for t in teams if ctx.policy.known_teams and t not in ctx.policy.known_teams]
    if unknown:
        raise InvalidCommand("teams", f"unknown teams {unknown}")
    return [WorkItem(team=t, assignee=ctx.assignees.get(t), dispatched_at=ctx.now, rule=rule) for t in teams]


def dispatch(ctx: Ctx, cmd: c.Dispatch) -> Decision:
    _require(ctx.actor.is_role(Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN), "dispatching needs a team lead")
    teams = [t for t in dict.fromkeys(cmd.teams) if t not in ctx.ticket.open_teams()]
    if not teams:
        raise InvalidCommand("teams", "every team named already has an open work item")
    state = State.DISPATCHED if ctx.ticket.state == State.OPENED else ctx.ticket.state
    items, contractors = _new_items(ctx, teams), new_contractors(ctx, teams)
    after = ctx.ticket.model_copy(
        update={"state": state, "work_items": ctx.ticket.work_items + items}
        | {"contractors": with_contractors(ctx.ticket, contractors)}
    )
    names = [c.contractor for c in contractors]
    events = [ctx.event(ev.TicketDispatched, teams=teams, contractors=names), *duty_notifications(ctx, items)]
    return decided(ctx, after, events, "dispatch", {"teams": teams, "contractors": names})


def accept(ctx: Ctx, cmd: c.Accept) -> Decision:
    item = my_item(ctx, cmd.team, ItemStatus.DISPATCHED)
    done = item.model_copy(
        update={"status": ItemStatus.ACCEPTED, "accepted_at": ctx.now, "accepted_by": ctx.actor.sub}
        | {"assignee": ctx.actor.sub}
    )
    state = State.ACCEPTED if ctx.ticket.state == State.DISPATCHED else ctx.ticket.state
    after = ctx.ticket.model_copy(update={"state": state, "work_items": ctx.ticket.replace_item(item, done)})
    return decided(ctx, after, [ctx.event(ev.TicketAccepted, team=item.team)], "accept", {"team": item.team})


def _working(ticket: Ticket) -> State:
    return State.IN_PROGRESS if ticket.state == State.ACCEPTED else State(ticket.state)


def contact(ctx: Ctx, cmd: c.RecordContact) -> Decision:
    """The contact result, reached or not (not reached needs the reason); the first result reported, either way,
    is what meets the 15-minute duty (seed 000 rule 3), so it sets `contacted_at`."""
    item = my_item(ctx, cmd.team, ItemStatus.ACCEPTED)
    _not_future("contacted_at", cmd.contacted_at, ctx)
    reason = (cmd.not_reached_reason or "").strip() or None
    if not cmd.reached and reason is None:
        raise InvalidCommand("not_reached_reason", "is required when the customer was not reached (say why)")
    if cmd.reached and reason is not None:
        raise InvalidCommand("not_reached_reason", "is only for a customer who was not reached")
    result = ContactResult(
        at=cmd.contacted_at, method=cmd.method, reached=cmd.reached, not_reached_reason=reason, by=ctx.actor.sub
    )
    update: dict[str, Any] = {"state": _working(ctx.ticket), "contact_results": [*ctx.ticket.contact_results, result]}
    if ctx.ticket.contacted_at is None:
        update["contacted_at"] = cmd.contacted_at
    event = ctx.event(
        ev.CustomerContacted,
        contacted_at=cmd.contacted_at,
        method=cmd.method,
        reached=cmd.reached,
        not_reached_reason=reason,
    )
    return decided(ctx, ctx.ticket.model_copy(update=update), [event], "contact", {"team": item.team, **_m(cmd)})


def _m(cmd: c.Command) -> dict[str, Any]:
    return cmd.model_dump(mode="json", exclude={"expected_version", "team"})


def progress(ctx: Ctx, cmd: c.NoteProgress) -> Decision:
    _team_or_supervisor(ctx, ItemStatus.ACCEPTED, ItemStatus.RESOLVED)
    after = ctx.ticket.model_copy(update={"state": _working(ctx.ticket)})
    event = ctx.event(ev.ProgressNoted, note=cmd.note, customer_informed=cmd.customer_informed)
    return decided(ctx, after, [event], "progress", _m(cmd))


def transfer(ctx: Ctx, cmd: c.Transfer) -> Decision:
    item = my_item(ctx, cmd.team, ItemStatus.DISPATCHED, ItemStatus.ACCEPTED, supervisor_may=True)
    if cmd.to_team == item.team or cmd.to_team in ctx.ticket.open_teams():
        raise InvalidCommand("to_team", f"{cmd.to_team} already has an open work item on this ticket")
    return transferred(ctx, item, cmd.to_team, cmd.reason, "transfer")


def transferred(ctx: Ctx, item: WorkItem, to_team: str, reason: str, action: str) -> Decision:
    """Move a work item to another team: the old item stays, marked transferred; the new one awaits acceptance."""
    moved, [fresh] = item.model_copy(update={"status": ItemStatus.TRANSFERRED}), _new_items(ctx, [to_team], item.rule)
    items = ctx.ticket.replace_item(item, [moved, fresh])
    state = State(ctx.ticket.state)
    if state in (State.ACCEPTED, State.IN_PROGRESS) and not any(i.status == ItemStatus.ACCEPTED for i in items):
        state = State.DISPATCHED  # nobody holds an accepted work item any more: waiting for acceptance again
    after = ctx.ticket.model_copy(update={"state": state, "work_items": items})
    event = ctx.event(ev.TicketTransferred, from_team=item.team, to_team=to_team, reason=reason)
    details = {"from_team": item.team, "to_team": to_team, "reason": reason}
    return decided(ctx, after, [event, *duty_notifications(ctx, [fresh])], action, details)


def suspend(ctx: Ctx, cmd: c.Suspend) -> Decision:
    _not_future("consent.at", cmd.consent.at, ctx)
    supervisor = ctx.actor.is_role(Role.SUPERVISOR)
    if not supervisor:
        my_item(ctx, None, ItemStatus.ACCEPTED)
    request = Suspension(reason=cmd.reason, consent=cmd.consent, requested_by=ctx.actor.sub, requested_at=ctx.now)
    if not supervisor:  # a team member asks; a supervisor approves (seed 000 6: consent, then approval)
        after = ctx.ticket.model_copy(update={"suspension_request": request})
        return decided(ctx, after, [], "suspension_requested", _m(cmd))
    return _suspended(ctx, request, "suspend")


def approve_suspension(ctx: Ctx, cmd: c.ApproveSuspension) -> Decision:
    _require(ctx.actor.is_role(Role.SUPERVISOR), "only a supervisor approves a suspension")
    assert ctx.ticket.suspension_request is not None  # allowed_actions guarantees it
    return _suspended(ctx, ctx.ticket.suspension_request, "approve_suspension")


def _suspended(ctx: Ctx, request: Suspension, action: str) -> Decision:
    approved = request.model_copy(update={"approved_by": ctx.actor.sub, "approved_at": ctx.now})
    update = {"state": State.SUSPENDED, "suspension": approved, "suspension_request": None}
    event = ctx.event(
        ev.TicketSuspended,
        reason=approved.reason,
        consent_by=approved.consent.by,
        consent_method=approved.consent.method,
        consent_at=approved.consent.at,
        approved_by=approved.approved_by,
    )
    return decided(ctx, ctx.ticket.model_copy(update=update), [event], action, {"requested_by": request.requested_by})


def resume(ctx: Ctx, cmd: c.Resume) -> Decision:
    _team_or_supervisor(ctx, ItemStatus.ACCEPTED)
    after = ctx.ticket.model_copy(update={"state": State.IN_PROGRESS, "suspension": None})
    return decided(ctx, after, [ctx.event(ev.TicketResumed)], "resume")


def exclusion(ctx: Ctx, cmd: c.RecordExclusion) -> Decision:
    _team_or_supervisor(ctx, ItemStatus.ACCEPTED, ItemStatus.RESOLVED)
    if cmd.end <= cmd.start:
        raise InvalidCommand("end", "must be after start")
    _not_future("end", cmd.end, ctx)
    fields = _m(cmd)
    after = ctx.ticket.model_copy(
        update={"state": _working(ctx.ticket), "exclusions": [*ctx.ticket.exclusions, {**fields, "by": ctx.actor.sub}]}
    )
    event = ctx.event(ev.ExclusionRecorded, kind=cmd.kind, start=cmd.start, end=cmd.end, reason=cmd.reason)
    return decided(ctx, after, [event], "exclusion", fields)


def resolve(ctx: Ctx, cmd: c.Resolve) -> Decision:
    item = my_item(ctx, cmd.team, ItemStatus.ACCEPTED)
    _not_future("restored_at", cmd.restored_at, ctx)
    if cmd.restored_at < ctx.ticket.reported_at:
        raise InvalidCommand("restored_at", "is before the fault was reported")
    done = item.model_copy(
        update={"status": ItemStatus.RESOLVED, "resolved_at": ctx.now, "restored_at": cmd.restored_at}
        | {"cause": cmd.cause, "cause_category": cmd.cause_category}
    )
    items = ctx.ticket.replace_item(item, done)
    remaining = [i.team for i in items if i.open]
    if remaining:  # a multi-team ticket resolves when every work item is done
        after = ctx.ticket.model_copy(update={"work_items": items})
        event = ctx.event(
            ev.WorkItemResolved,
            team=item.team,
            cause=cmd.cause,
            cause_category=cmd.cause_category,
            restored_at=cmd.restored_at,
            remaining_teams=remaining,
        )
        return decided(ctx, after, [event], "resolve_work_item", {"team": item.team, **_m(cmd)})
    finished = [i for i in items if i.status == ItemStatus.RESOLVED]
    restored_at = max(i.restored_at for i in finished if i.restored_at)
    # one team: its cause; several: each team's, named, so the ticket's cause stays clear (返单原因)
    cause = cmd.cause if len(finished) == 1 else "; ".join(f"{i.team}: {i.cause}" for i in finished)
    category = ticket_category(i.cause_category for i in finished)
    follow_ups = follow_ups_after(ctx.ticket, category, rule=ctx.policy.dedicated_notice, now=ctx.now)
    after = ctx.ticket.model_copy(
        update={"state": State.RESOLVED, "work_items": items, "resolved_at": ctx.now, "restored_at": restored_at}
        | {"cause": cause, "cause_category": category, "follow_ups": follow_ups, "suspension_request": None}
    )
    event = ctx.event(
        ev.TicketResolved, cause=cause, cause_category=category, restored_at=restored_at, resolution=cmd.resolution
    )
    return decided(ctx, after, [event], "resolve", {"team": item.team, **_m(cmd)})


def _customer_service(ctx: Ctx, what: str) -> None:
    _require(ctx.actor.is_role(Role.SUPERVISOR) or ctx.customer_service(), f"{what} is for customer service")


def confirm(ctx: Ctx, cmd: c.ConfirmRestoration) -> Decision:
    _customer_service(ctx, "confirming restoration")
    after = ctx.ticket.model_copy(update={"state": State.CONFIRMED, "confirmed_by": ctx.actor.sub})
    return decided(ctx, after, [ctx.event(ev.RestorationConfirmed, method=cmd.method)], "confirm", _m(cmd))


def close(ctx: Ctx, cmd: c.Close) -> Decision:
    _customer_service(ctx, "closing")
    after = ctx.ticket.model_copy(update={"state": State.CLOSED, "closed_at": ctx.now})
    return decided(ctx, after, [ctx.event(ev.TicketClosed)], "close")


_RESOLUTION = ("resolved_at", "restored_at", "cause", "cause_category")


def reopen(ctx: Ctx, cmd: c.Reopen) -> Decision:
    _customer_service(ctx, "reopening")
    resolved_at = ctx.ticket.resolved_at
    if resolved_at is not None and ctx.now - resolved_at > ctx.policy.reopen_window:
        raise InvalidTransition(f"the reopen window ({ctx.policy.reopen_window}) has passed", ctx.ticket)
    items = [
        i.model_copy(update={"status": ItemStatus.ACCEPTED} | dict.fromkeys(_RESOLUTION))
        if i.status == ItemStatus.RESOLVED
        else i
        for i in ctx.ticket.work_items
    ]
    cleared = dict.fromkeys((*_RESOLUTION, "confirmed_by", "closed_at", "satisfied"))
    after = ctx.ticket.model_copy(
        update={"state": State.IN_PROGRESS, "work_items": items, "fault_report_ref": None} | cleared
    )
    return decided(ctx, after, [ctx.event(ev.TicketReopened, reason=cmd.reason)], "reopen", _m(cmd))


def cancel(ctx: Ctx, cmd: c.Cancel) -> Decision:
    _require(ctx.actor.is_role(Role.SUPERVISOR, Role.ADMIN) or ctx.customer_service(), "cancelling needs a supervisor")
    items = [i.model_copy(update={"status": ItemStatus.CANCELLED}) if i.open else i for i in ctx.ticket.work_items]
    after = ctx.ticket.model_copy(
        update={"state": State.CANCELLED, "work_items": items, "suspension": None, "suspension_request": None}
    )
    return decided(ctx, after, [ctx.event(ev.TicketCancelled, reason=cmd.reason)], "cancel", _m(cmd))


def request_fault_report(ctx: Ctx, cmd: c.RequestFaultReport) -> Decision:
    _customer_service(ctx, "recording a report request")
    after = ctx.ticket.model_copy(update={"fault_report_requested_by": cmd.requested_by})
    event = ctx.event(ev.FaultReportRequested, requested_by=cmd.requested_by)
    return decided(ctx, after, [event], "request_fault_report", _m(cmd))


def submit_fault_report(ctx: Ctx, cmd: c.SubmitFaultReport) -> Decision:
    if not ctx.actor.is_role(Role.SUPERVISOR):
        my_item(ctx, None, ItemStatus.RESOLVED)
    after = ctx.ticket.model_copy(update={"fault_report_ref": cmd.document_ref})
    event = ctx.event(ev.FaultReportSubmitted, document_ref=cmd.document_ref)
    return decided(ctx, after, [event], "submit_fault_report", _m(cmd))


def satisfaction(ctx: Ctx, cmd: c.RecordSatisfaction) -> Decision:
    _customer_service(ctx, "the follow-up (回访)")
    _not_future("called_at", cmd.called_at, ctx)
    if ctx.ticket.resolved_at is not None and cmd.called_at < ctx.ticket.resolved_at:
        raise InvalidCommand("called_at", "is before the ticket was resolved: a follow-up comes after the result")
    after = ctx.ticket.model_copy(update={"satisfied": cmd.satisfied})
    fields = cmd.model_dump(exclude={"expected_version"})
    event = ctx.event(ev.SatisfactionRecorded, **fields)
    return decided(ctx, after, [event], "satisfaction", _m(cmd))


def inform_leader(ctx: Ctx, cmd: c.RecordLeaderInformed) -> Decision:
    """A leader told by hand (seed 000 rule 8): a team lead or above says whom, when; they are `informed_by`."""
    _require(ctx.actor.is_role(Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN), "recording a leader needs a team lead")
    _not_future("informed_at", cmd.informed_at, ctx)
    if cmd.informed_at < ctx.ticket.reported_at:
        raise InvalidCommand("informed_at", "is before the fault was reported")
    record = LeaderRecord(
        audience=cmd.audience, informed_at=cmd.informed_at, informed_by=ctx.actor.sub, leader=cmd.leader
    )
    return leader_recorded(ctx, record, "inform_leader")


def leader_recorded(ctx: Ctx, record: LeaderRecord, action: str, **event_fields: Any) -> Decision:
    """The leader on the ticket's list (the fault report's data) and `LeaderInformed` published."""
    after = ctx.ticket.model_copy(update={"leaders_informed": [*ctx.ticket.leaders_informed, record]})
    event = ctx.event(ev.LeaderInformed, **record.model_dump(), **event_fields)
    return decided(ctx, after, [event], action, record.model_dump(mode="json"))


def quality_check(ctx: Ctx, cmd: c.QualityCheck) -> Decision:
    """The monitoring center checks a returned ticket (seed 002 第25条): supervisors (the provincial monitoring
    center's duty staff) and admins; a failed check must say what was found. Each check is kept (a re-check after
    a failed one adds to the list)."""
    _require(ctx.actor.is_role(Role.SUPERVISOR, Role.ADMIN), "the quality check is the monitoring center's")
    remarks = cmd.remarks.strip()
    if cmd.result == "failed" and not remarks:
        raise InvalidCommand("remarks", "a failed check must say what was found")
    check = QualityCheck(result=cmd.result, remarks=remarks, checked_by=ctx.actor.sub, checked_at=ctx.now)
    after = ctx.ticket.model_copy(update={"quality_checks": [*ctx.ticket.quality_checks, check]})
    event = ctx.event(ev.QualityChecked, result=cmd.result, remarks=remarks)
    return decided(ctx, after, [event], "quality_check", _m(cmd))


_ACTIONS: dict[type[c.Command], Callable[[Ctx, Any], Decision]] = {
    c.Dispatch: dispatch,
    c.Accept: accept,
    c.RecordContact: contact,
    c.NoteProgress: progress,
    c.Transfer: transfer,
    c.Suspend: suspend,
    c.ApproveSuspension: approve_suspension,
    c.Resume: resume,
    c.RecordExclusion: exclusion,
    c.Resolve: resolve,
    c.ConfirmRestoration: confirm,
    c.Close: close,
    c.Reopen: reopen,
    c.Cancel: cancel,
    c.RequestFaultReport: request_fault_report,
    c.SubmitFaultReport: submit_fault_report,
    c.RecordSatisfaction: satisfaction,
    c.RecordLeaderInformed: inform_leader,
    c.QualityCheck: quality_check,
}
assert set(_ACTIONS) == set(c.COMMANDS), "every command has its action"
