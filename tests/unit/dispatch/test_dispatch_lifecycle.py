"""The ticket state machine: every action in every state, who may act, suspension rules, multi-team tickets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.domain import commands as c
from dispatch.domain.access import Forbidden
from dispatch.domain.actions import decide
from dispatch.domain.lifecycle import ALLOWED, InvalidCommand, InvalidTransition, allowed_actions
from dispatch.domain.model import ItemStatus, State
from huying.events import (
    DutyNotificationRequested,
    RestorationConfirmed,
    TicketAccepted,
    TicketClosed,
    TicketDispatched,
    TicketResolved,
    TicketSuspended,
    TicketTransferred,
    WorkItemResolved,
)
from tests.unit.dispatch.builders import (
    AGENT,
    AGENT2,
    CONFIG,
    CONSENT,
    CORE,
    CS,
    FOLLOW_UP,
    OTHER,
    RESTORED,
    SAMPLES,
    SUPERVISOR,
    SZ_LEAD,
    T0,
    act,
    new_ticket,
    opened,
    ticket_in,
)

pytestmark = pytest.mark.unit
LATER = T0 + timedelta(hours=1)


def test_a_new_gold_ticket_is_dispatched_at_once_to_its_citys_team_with_history_and_event() -> None:
    event = opened()
    decision = new_ticket(event)
    ticket = decision.ticket
    assert (ticket.state, ticket.version, ticket.route) == (State.DISPATCHED, 1, "by-city")
    assert [(i.team, i.status, i.assignee) for i in ticket.work_items] == [("gz-access-ops", "dispatched", "op-gz-01")]
    dispatched, duty_call = decision.events
    assert isinstance(dispatched, TicketDispatched) and dispatched.teams == ["gz-access-ops"]
    assert dispatched.contractors == ["gz-daiwei-01"]  # the team's contracted maintainers go with it (代维)
    assert isinstance(duty_call, DutyNotificationRequested) and duty_call.staff_id == "op-gz-01"
    assert (dispatched.actor, dispatched.causation_id, dispatched.correlation_id) == (
        "dispatch", str(event.event_id), "rpt-T-1"
    )  # fmt: skip
    assert [h.action for h in decision.history] == ["open", "dispatch"]
    assert decision.history[1].before["state"] == "opened" and decision.history[1].after["state"] == "dispatched"
    assert decision.history[1].event_ids == [str(dispatched.event_id), str(duty_call.event_id)]


def test_the_full_lifecycle_emits_one_event_per_action_and_records_who_did_it() -> None:
    ticket, emitted, actors = new_ticket().ticket, [], []
    steps = [
        (c.Accept(), AGENT),
        (c.RecordContact(contacted_at=T0 + timedelta(minutes=8)), AGENT),
        (c.NoteProgress(note="已定位光缆中断点", customer_informed=True), AGENT),
        (c.Suspend(reason="客户机房断电", consent=CONSENT), AGENT),  # a request: no event yet
        (c.ApproveSuspension(), SUPERVISOR),
        (c.Resume(), AGENT),
        (c.RecordExclusion(kind="interconnection", start=T0, end=T0 + timedelta(minutes=9), reason="对端"), AGENT),
        (c.Resolve(**RESTORED), AGENT),
        (c.ConfirmRestoration(), CS),
        (c.Close(), CS),
        (c.SubmitFaultReport(document_ref="FR-1"), AGENT),
        (c.RecordSatisfaction(satisfied=True, comment="处理及时", **FOLLOW_UP | {"called_at": LATER}), CS),
    ]
    for command, actor in steps:
        decision = decide(ticket, command, actor=actor, now=LATER, policy=CONFIG.policy)
        assert decision.ticket.version == ticket.version + 1
        ticket = decision.ticket
        emitted += [e.type for e in decision.events]
        actors += [(h.actor, h.action) for h in decision.history]
    assert ticket.state == State.CLOSED and ticket.satisfied is True and ticket.fault_report_ref == "FR-1"
    assert emitted == [
        "TicketAccepted", "CustomerContacted", "ProgressNoted", "TicketSuspended", "TicketResumed",
        "ExclusionRecorded", "TicketResolved", "RestorationConfirmed", "TicketClosed", "FaultReportSubmitted",
        "SatisfactionRecorded",
    ]  # fmt: skip
    assert ("op-gz-01", "suspension_requested") in actors and ("sup-gd-01", "approve_suspension") in actors


@pytest.mark.parametrize("state", list(State), ids=str)
def test_every_action_the_state_does_not_allow_answers_invalid_transition_with_the_allowed_ones(state) -> None:
    ticket = ticket_in(state)
    allowed = allowed_actions(ticket)
    assert set(allowed) <= ALLOWED[state]
    for action, command in SAMPLES.items():
        if action in allowed:
            continue
        with pytest.raises(InvalidTransition) as caught:
            decide(ticket, command, actor=SUPERVISOR, now=LATER, policy=CONFIG.policy)
        assert (caught.value.state, caught.value.allowed) == (state, allowed)


def test_only_the_assigned_team_acts_on_its_work_item() -> None:
    ticket = new_ticket().ticket
    with pytest.raises(Forbidden):
        act(ticket, c.Accept(), OTHER)
    accepted = act(ticket, c.Accept(), AGENT2)  # any member of the team may accept; they become the assignee
    assert accepted.work_items[0].assignee == "op-gz-02"
    for command in (c.NoteProgress(note="x"), c.Resolve(**RESTORED), c.RecordContact(contacted_at=T0)):
        with pytest.raises(Forbidden):
            act(accepted, command, OTHER)


def test_customer_service_steps_are_not_the_maintainers() -> None:
    resolved = ticket_in(State.RESOLVED)
    with pytest.raises(Forbidden):
        act(resolved, c.ConfirmRestoration(), AGENT)
    assert act(resolved, c.ConfirmRestoration(method="noc_alarm_cleared"), SUPERVISOR).state == State.CONFIRMED


def test_suspension_needs_consent_and_only_a_supervisor_approves() -> None:
    working = ticket_in(State.IN_PROGRESS)
    with pytest.raises(ValueError, match="consent"):
        c.Suspend(reason="x")  # the HTTP layer answers 422: consent (who, how, when) is required
    with pytest.raises(ValueError):
        c.Suspend(reason="x", consent={"by": "", "method": "phone", "at": T0})
    with pytest.raises(InvalidCommand, match=r"consent\.at"):
        act(working, c.Suspend(reason="x", consent=CONSENT | {"at": LATER + timedelta(hours=1)}), AGENT, LATER)
    requested = act(working, c.Suspend(reason="客户机房断电", consent=CONSENT), AGENT, LATER)
    assert requested.state == State.IN_PROGRESS and requested.suspension_request.requested_by == "op-gz-01"
    for not_supervisor in (AGENT, CS):
        with pytest.raises(Forbidden, match="supervisor"):
            act(requested, c.ApproveSuspension(), not_supervisor, LATER)
    decision = decide(requested, c.ApproveSuspension(), actor=SUPERVISOR, now=LATER, policy=CONFIG.policy)
    [event] = decision.events
    assert isinstance(event, TicketSuspended)
    assert (event.consent_by, event.consent_method, event.consent_at, event.approved_by) == (
        "王伟", "phone", T0, "sup-gd-01"
    )  # fmt: skip
    assert decision.ticket.state == State.SUSPENDED and decision.ticket.suspension_request is None


def test_a_suspended_ticket_must_resume_before_it_resolves() -> None:
    suspended = ticket_in(State.SUSPENDED)
    with pytest.raises(InvalidTransition) as caught:
        act(suspended, c.Resolve(**RESTORED), AGENT, LATER)
    assert "resume" in caught.value.allowed and "resolve" not in caught.value.allowed


def test_a_gold_multi_city_fault_goes_to_every_city_and_resolves_when_every_team_is_done() -> None:
    event = opened(scope="inter_city")
    decision = new_ticket(event, cities=("广州", "深圳", "佛山"))
    ticket = decision.ticket
    assert [i.team for i in ticket.work_items] == ["gz-access-ops", "sz-access-ops", "fs-access-ops"]
    assert decision.events[0].teams == ["gz-access-ops", "sz-access-ops", "fs-access-ops"]
    fs = OTHER.model_copy(update={"sub": "op-fs-01", "teams": ["fs-access-ops"]})
    for actor in (AGENT, OTHER, fs):
        ticket = act(ticket, c.Accept(), actor)
    sz_done = c.Resolve(cause="本端光缆中断", cause_category="third_party", restored_at=T0 + timedelta(minutes=40))
    ticket = act(ticket, sz_done, OTHER, LATER)
    fs_done = c.Resolve(cause="跳纤松动", cause_category="operator_equipment", restored_at=T0 + timedelta(minutes=30))
    first = decide(ticket, fs_done, actor=fs, now=LATER, policy=CONFIG.policy)
    assert first.ticket.state == State.ACCEPTED
    [partial] = first.events
    assert isinstance(partial, WorkItemResolved) and partial.remaining_teams == ["gz-access-ops"]
    assert partial.cause_category == "operator_equipment"
    last = decide(first.ticket, c.Resolve(**RESTORED), actor=AGENT, now=LATER, policy=CONFIG.policy)
    [resolved] = last.events
    assert isinstance(resolved, TicketResolved) and last.ticket.state == State.RESOLVED
    assert resolved.restored_at == RESTORED["restored_at"]  # the latest of the teams' restorations
    assert resolved.cause == "gz-access-ops: 光缆被施工挖断; sz-access-ops: 本端光缆中断; fs-access-ops: 跳纤松动"
    # one team found the operator's equipment: the ticket counts as the operator's (DOMAIN.md "Only the operator's…")
    assert resolved.cause_category == last.ticket.cause_category == "operator_equipment"


def test_a_core_network_fault_is_routed_to_the_specialists_and_a_transfer_waits_for_acceptance_again() -> None:
    core = new_ticket(opened(core_network=True)).ticket
    assert [i.team for i in core.work_items] == ["prov-core-network"]
    accepted = act(new_ticket().ticket, c.Accept(), AGENT)
    decision = decide(accepted, c.Transfer(to_team="prov-core-network", reason="核心网故障"), actor=AGENT, now=LATER,
                      policy=CONFIG.policy, assignees={"prov-core-network": "op-core-02"})  # fmt: skip
    moved = decision.ticket
    assert moved.state == State.DISPATCHED
    assert [(i.team, i.status, i.assignee) for i in moved.work_items] == [
        ("gz-access-ops", ItemStatus.TRANSFERRED, "op-gz-01"),
        ("prov-core-network", ItemStatus.DISPATCHED, "op-core-02"),
    ]
    event, duty_call = decision.events
    assert (duty_call.team, duty_call.staff_id, duty_call.phone) == ("prov-core-network", "op-core-02", "13700137022")
    assert isinstance(event, TicketTransferred) and (event.from_team, event.to_team) == (
        "gz-access-ops",
        "prov-core-network",
    )
    with pytest.raises(Forbidden):
        act(moved, c.Accept(), AGENT)  # the old team no longer holds a work item
    assert act(moved, c.Accept(), CORE).state == State.ACCEPTED
    with pytest.raises(InvalidCommand, match="to_team"):
        act(accepted, c.Transfer(to_team="gz-access-ops", reason="x"), AGENT)
    with pytest.raises(InvalidCommand, match="unknown"):
        act(accepted, c.Transfer(to_team="nobody", reason="x"), AGENT)


def test_reopen_only_within_the_window_and_the_teams_carry_on() -> None:
    closed = ticket_in(State.CLOSED)
    window = CONFIG.policy.reopen_window
    with pytest.raises(InvalidTransition, match="reopen window"):
        act(closed, c.Reopen(reason="仍无法访问"), CS, closed.resolved_at + window + timedelta(seconds=1))
    again = act(closed, c.Reopen(reason="仍无法访问"), CS, closed.resolved_at + window)
    assert again.state == State.IN_PROGRESS and again.work_items[0].status == ItemStatus.ACCEPTED
    assert (again.resolved_at, again.satisfied, again.fault_report_ref) == (None, None, None)
    assert act(again, c.Resolve(**RESTORED), AGENT, LATER).state == State.RESOLVED


def test_resolution_and_exclusion_times_must_make_sense() -> None:
    working = ticket_in(State.IN_PROGRESS)
    for restored_at in (LATER + timedelta(hours=1), T0 - timedelta(days=1)):
        with pytest.raises(InvalidCommand, match="restored_at"):
            act(working, c.Resolve(cause="x", cause_category="not_a_fault", restored_at=restored_at), AGENT, LATER)
    with pytest.raises(InvalidCommand, match="end"):
        act(working, c.RecordExclusion(kind="customer_caused", start=T0, end=T0, reason="x"), AGENT, LATER)
    with pytest.raises(ValueError):
        c.Resolve(cause="", cause_category="not_a_fault", restored_at=T0)  # the cause must be clear


def test_history_records_before_and_after_of_exactly_what_changed() -> None:
    decision = decide(new_ticket().ticket, c.Accept(), actor=AGENT, now=LATER, policy=CONFIG.policy)
    [entry] = decision.history
    assert (entry.actor, entry.role, entry.action, entry.at) == ("op-gz-01", "agent", "accept", LATER)
    assert entry.before == {
        "state": "dispatched",
        "work_items/0/status": "dispatched",
        "work_items/0/accepted_at": None,
        "work_items/0/accepted_by": None,
    }
    assert entry.after["state"] == "accepted" and entry.after["work_items/0/accepted_by"] == "op-gz-01"
    assert isinstance(decision.events[0], TicketAccepted)


def test_a_team_lead_dispatches_an_opened_ticket_and_agents_may_not() -> None:
    opened_ticket = ticket_in(State.OPENED)
    with pytest.raises(Forbidden):
        act(opened_ticket, c.Dispatch(teams=["sz-access-ops"]), AGENT)
    ticket = act(opened_ticket, c.Dispatch(teams=["sz-access-ops"]), SZ_LEAD, assignees={"sz-access-ops": "op-sz-01"})
    assert ticket.state == State.DISPATCHED and ticket.work_items[0].assignee == "op-sz-01"


def test_closing_needs_confirmation_first_and_events_carry_the_actor() -> None:
    resolved = ticket_in(State.RESOLVED)
    with pytest.raises(InvalidTransition):
        act(resolved, c.Close(), CS)
    decision = decide(act(resolved, c.ConfirmRestoration(), CS), c.Close(), actor=CS, now=LATER, policy=CONFIG.policy)
    assert isinstance(decision.events[0], TicketClosed) and decision.events[0].actor == "cs-01"
    assert not isinstance(decision.events[0], RestorationConfirmed)
