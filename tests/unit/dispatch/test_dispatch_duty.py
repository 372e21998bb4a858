"""The duty rules of seed 000 and 001 dispatch keeps: the person on duty told by phone/SMS with every dispatch, the
contracted maintainers (代维) sent with the team, the contact result (reached or not, and why), the leaders informed,
the monitoring center's quality check, and the severe mark sla-watch raises."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.config_loader import load_config
from dispatch.domain import commands as c
from dispatch.domain.access import Forbidden
from dispatch.domain.actions import decide
from dispatch.domain.automatic import leader_informed, restore_deadline_moved, severity_marked
from dispatch.domain.lifecycle import InvalidCommand
from dispatch.domain.model import State
from dispatch.domain.roster import Roster
from dispatch.domain.routing import contractors_for
from dispatch.settings import CONFIG_DIR
from huying.access import Principal, Role
from huying.events import (
    CustomerContacted,
    DutyNotificationRequested,
    EscalationRaised,
    LeaderInformed,
    QualityChecked,
    SlaClockStarted,
    SlaDeadlineMoved,
    TicketDispatched,
    TicketSeverityChanged,
)
from tests.unit.dispatch.builders import (
    AGENT,
    CONFIG,
    CS,
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
GZ_LEAD = Principal(sub="tl-gz-01", role=Role.TEAM_LEAD, teams=["gz-access-ops"])


# -- the person on duty, by phone and SMS (seed 001 2)-(2) "必须电话通知工单接收部门")


def test_every_new_work_item_asks_for_its_person_on_duty_to_be_called_with_name_and_phone() -> None:
    decision = new_ticket(opened(scope="inter_city"), cities=("广州", "深圳"))
    calls = [e for e in decision.events if isinstance(e, DutyNotificationRequested)]
    assert [(e.team, e.staff_id, e.name, e.phone, e.channels) for e in calls] == [
        ("gz-access-ops", "op-gz-01", "张强", "13700137001", ["sms", "phone"]),
        ("sz-access-ops", "op-sz-01", "陈刚", "13700137011", ["sms", "phone"]),
    ]
    assert all(e.causation_id == decision.events[0].causation_id and e.actor == "dispatch" for e in calls)


def test_with_nobody_on_duty_the_call_is_still_asked_for_without_a_person() -> None:
    opened_ticket = ticket_in(State.OPENED)
    decision = decide(opened_ticket, c.Dispatch(teams=["fs-access-ops"]), actor=SUPERVISOR, now=LATER,
                      policy=CONFIG.policy, assignees={"fs-access-ops": None})  # fmt: skip
    dispatched, call = decision.events
    assert isinstance(dispatched, TicketDispatched) and dispatched.contractors == []  # fs has no 代维
    assert (call.team, call.staff_id, call.name, call.phone) == ("fs-access-ops", None, None, None)
    assert call.channels == ["sms", "phone"]  # notify tells the team lead


def test_a_member_without_a_directory_entry_is_named_by_id() -> None:
    decision = decide(ticket_in(State.OPENED), c.Dispatch(teams=["fs-access-ops"]), actor=SUPERVISOR, now=LATER,
                      policy=CONFIG.policy, assignees={"fs-access-ops": "op-fs-02"})  # fmt: skip
    call = decision.events[1]
    assert (call.staff_id, call.name, call.phone) == ("op-fs-02", None, None)


def test_the_staff_directory_names_only_members(tmp_path) -> None:
    with pytest.raises(ValueError, match="staff not in any team"):
        Roster.model_validate({"teams": {"a": {"members": ["m1"]}}, "staff": {"m2": {"name": "某人"}}})


# -- contracted maintainers (代维), seed 000 rule 2 "签收后同时派专业和代维处理"


def test_the_teams_contractors_go_with_it_and_are_recorded_on_the_ticket() -> None:
    ticket = new_ticket().ticket
    assert [(x.contractor, x.team, x.dispatched_at, x.rule) for x in ticket.contractors] == [
        ("gz-daiwei-01", "gz-access-ops", T0, "by-city")
    ]
    assert [i.team for i in ticket.work_items] == ["gz-access-ops"]  # not a work item: the team accepts, resolves
    resolve = c.Resolve(cause="x", cause_category="third_party", restored_at=T0)
    done = act(act(ticket, c.Accept(), AGENT), resolve, AGENT)
    assert done.state == State.RESOLVED


def test_a_team_dispatched_by_hand_brings_its_contractors_once() -> None:
    ticket = new_ticket().ticket
    decision = decide(ticket, c.Dispatch(teams=["sz-access-ops"]), actor=SZ_LEAD, now=LATER, policy=CONFIG.policy,
                      assignees={"sz-access-ops": "op-sz-01"})  # fmt: skip
    assert decision.events[0].contractors == ["sz-daiwei-01"]
    assert [x.contractor for x in decision.ticket.contractors] == ["gz-daiwei-01", "sz-daiwei-01"]
    assert decision.history[0].details["contractors"] == ["sz-daiwei-01"]


def test_a_rules_contractors_go_with_its_first_team(tmp_path) -> None:
    routing = (CONFIG_DIR / "routing.yaml").read_text(encoding="utf-8")
    core = "    teams: [prov-core-network]"
    routing = routing.replace(core, core + "\n    contractors: [gz-daiwei-01]")
    (tmp_path / "routing.yaml").write_text(routing, encoding="utf-8")
    config = load_config(tmp_path / "routing.yaml", CONFIG_DIR / "roster.yaml", reopen_window=timedelta(days=7))
    from dispatch.domain.routing import RoutingInput, route

    chosen = route(RoutingInput(category="access", city="广州", core_network=True), config.rules)
    assert chosen.contractors == (("gz-daiwei-01", "prov-core-network"),)


def test_a_routing_file_naming_an_unknown_contractor_does_not_load(tmp_path) -> None:
    routing = (CONFIG_DIR / "routing.yaml").read_text(encoding="utf-8")
    (tmp_path / "routing.yaml").write_text(routing.replace("[sz-daiwei-01]", "[sz-daiwei-99]"), encoding="utf-8")
    with pytest.raises(ValueError, match="sz-daiwei-99"):
        load_config(tmp_path / "routing.yaml", CONFIG_DIR / "roster.yaml", reopen_window=timedelta(days=7))


TEAMS = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True)
OWN = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.lists(st.sampled_from(["x", "y", "z"]), max_size=3))


@given(TEAMS, OWN, st.lists(st.sampled_from(["x", "y", "w"]), max_size=3))
def test_each_contractor_goes_once_with_a_team_that_brings_it(teams, own, extra) -> None:
    pairs = contractors_for(teams, own, extra)
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names))
    assert set(names) == {x for t in teams for x in own.get(t, [])} | set(extra)
    for name, team in pairs:
        assert team in teams and (name in own.get(team, []) or (name in extra and team == teams[0]))


# -- the contact result, seed 000 rule 3 "派单后15分钟内需反馈维护人员与报障用户联系结果"


def test_not_reached_needs_its_reason_and_reporting_it_meets_the_duty() -> None:
    accepted = act(new_ticket().ticket, c.Accept(), AGENT)
    for reason in (None, "  "):
        with pytest.raises(InvalidCommand) as caught:
            act(accepted, c.RecordContact(contacted_at=T0, reached=False, not_reached_reason=reason), AGENT, LATER)
        assert caught.value.field == "not_reached_reason"
    with pytest.raises(InvalidCommand, match="not_reached_reason"):
        act(accepted, c.RecordContact(contacted_at=T0, not_reached_reason="无人接听"), AGENT, LATER)

    tried = T0 + timedelta(minutes=6)
    cmd = c.RecordContact(contacted_at=tried, reached=False, not_reached_reason="电话无人接听")
    decision = decide(accepted, cmd, actor=AGENT, now=LATER, policy=CONFIG.policy)
    [event] = decision.events
    assert isinstance(event, CustomerContacted)
    assert (event.reached, event.not_reached_reason, event.contacted_at) == (False, "电话无人接听", tried)
    ticket = decision.ticket
    assert ticket.contacted_at == tried and ticket.state == State.IN_PROGRESS  # the result is what the clock wants
    reached = act(ticket, c.RecordContact(contacted_at=tried + timedelta(minutes=5)), AGENT, LATER)
    assert reached.contacted_at == tried  # the first result stays the one that met the duty
    assert [(r.reached, r.not_reached_reason, r.by) for r in reached.contact_results] == [
        (False, "电话无人接听", "op-gz-01"), (True, None, "op-gz-01"),
    ]  # fmt: skip


# -- leaders informed, seed 000 rule 8 "上报领导 … 在故障报告中体现"


def escalation(ticket_id: str = "T-1", audience: str = "director", level: int = 1) -> EscalationRaised:
    return EscalationRaised(
        ticket_id=ticket_id, clock="escalation_director", policy_version="2026.1", level=level, audience=audience,
        producer="sla-watch", occurred_at=T0 + timedelta(minutes=115),
    )  # fmt: skip


def test_an_escalation_records_the_leader_once_with_an_id_a_redelivery_repeats() -> None:
    ticket = act(new_ticket().ticket, c.Accept(), AGENT)
    raised = escalation()
    decision = leader_informed(ticket, raised, now=LATER, policy=CONFIG.policy)
    assert decision is not None
    [event] = decision.events
    assert isinstance(event, LeaderInformed)
    assert (event.audience, event.informed_by, event.informed_at) == ("director", "sla-watch", raised.occurred_at)
    assert (event.escalation_event_id, event.causation_id) == (str(raised.event_id), str(raised.event_id))
    [record] = decision.ticket.leaders_informed
    assert (record.audience, record.informed_by, record.escalation_event_id) == (
        "director", "sla-watch", str(raised.event_id),
    )  # fmt: skip
    again = leader_informed(ticket, raised, now=LATER + timedelta(minutes=1), policy=CONFIG.policy)
    assert again is not None and again.events[0].event_id == event.event_id  # decided again before the write landed
    assert leader_informed(decision.ticket, raised, now=LATER, policy=CONFIG.policy) is None  # already on the ticket
    deputy = escalation(audience="deputy_gm", level=2)
    second = leader_informed(decision.ticket, deputy, now=LATER, policy=CONFIG.policy)
    assert [r.audience for r in second.ticket.leaders_informed] == ["director", "deputy_gm"]


def test_a_team_lead_or_above_records_a_leader_by_hand() -> None:
    ticket = act(new_ticket().ticket, c.Accept(), AGENT)
    told = c.RecordLeaderInformed(audience="leadership", leader="陈总", informed_at=T0 + timedelta(minutes=3))
    with pytest.raises(Forbidden):
        act(ticket, told, AGENT, LATER)
    decision = decide(ticket, told, actor=GZ_LEAD, now=LATER, policy=CONFIG.policy)
    [event] = decision.events
    assert (event.audience, event.leader, event.informed_by, event.escalation_event_id) == (
        "leadership", "陈总", "tl-gz-01", None,
    )  # fmt: skip
    assert decision.ticket.leaders_informed[0].informed_at == T0 + timedelta(minutes=3)
    for wrong in (LATER + timedelta(hours=1), T0 - timedelta(hours=1)):
        with pytest.raises(InvalidCommand, match="informed_at"):
            act(ticket, told.model_copy(update={"informed_at": wrong}), SUPERVISOR, LATER)
    assert act(ticket_in(State.CLOSED), told, SUPERVISOR, LATER).leaders_informed[0].informed_by == "sup-gd-01"


# -- the quality check, seed 002 第25条 "对客户服务支撑中心回复的障碍工单进行质检"


@pytest.mark.parametrize("state", [State.RESOLVED, State.CONFIRMED, State.CLOSED], ids=str)
def test_the_monitoring_center_checks_a_returned_ticket(state) -> None:
    ticket = ticket_in(state)
    for not_monitoring in (AGENT, GZ_LEAD, CS):
        with pytest.raises(Forbidden):
            act(ticket, c.QualityCheck(result="passed"), not_monitoring, LATER)
    with pytest.raises(InvalidCommand, match="remarks"):
        act(ticket, c.QualityCheck(result="failed", remarks=" "), SUPERVISOR, LATER)
    decision = decide(ticket, c.QualityCheck(result="failed", remarks="原因描述不清"), actor=SUPERVISOR, now=LATER,
                      policy=CONFIG.policy)  # fmt: skip
    [event] = decision.events
    assert isinstance(event, QualityChecked) and (event.result, event.remarks, event.actor) == (
        "failed", "原因描述不清", "sup-gd-01",
    )  # fmt: skip
    assert decision.ticket.state == state  # a check records; it moves nothing
    rechecked = act(decision.ticket, c.QualityCheck(result="passed"), SUPERVISOR, LATER)
    assert [(q.result, q.checked_by, q.checked_at) for q in rechecked.quality_checks] == [
        ("failed", "sup-gd-01", LATER), ("passed", "sup-gd-01", LATER),
    ]  # fmt: skip


# -- the severe mark and the restore deadline, from sla-watch


def test_the_severe_mark_is_recorded_once() -> None:
    ticket = new_ticket().ticket
    marked = TicketSeverityChanged(
        ticket_id="T-1", clock="severity", policy_version="2026.1", outage_started_at=T0 - timedelta(minutes=5),
        marked_at=T0 + timedelta(minutes=25), reason="重要集团客户业务全阻超过30分钟", producer="sla-watch",
    )  # fmt: skip
    decision = severity_marked(ticket, marked, now=LATER, policy=CONFIG.policy)
    assert decision is not None and decision.events == []  # sla-watch published it already
    assert (decision.ticket.severity, decision.ticket.severe_since) == ("severe", T0 + timedelta(minutes=25))
    assert decision.history[0].details["reason"] == "重要集团客户业务全阻超过30分钟"
    assert severity_marked(decision.ticket, marked, now=LATER, policy=CONFIG.policy) is None


def test_the_restore_deadline_follows_the_restore_clock_only() -> None:
    ticket = new_ticket().ticket
    deadline = T0 + timedelta(hours=4)
    started = SlaClockStarted(ticket_id="T-1", clock="restore", policy_version="2026.1", started_at=T0,
                              deadline=deadline)  # fmt: skip
    decision = restore_deadline_moved(ticket, started, now=T0, policy=CONFIG.policy)
    assert decision is not None and decision.ticket.restore_deadline == deadline
    assert restore_deadline_moved(decision.ticket, started, now=T0, policy=CONFIG.policy) is None
    other = started.model_copy(update={"clock": "acceptance"})
    assert restore_deadline_moved(ticket, other, now=T0, policy=CONFIG.policy) is None
    paused = SlaDeadlineMoved(ticket_id="T-1", clock="restore", policy_version="2026.1", old_deadline=deadline,
                              new_deadline=None, reason="paused")  # fmt: skip
    assert restore_deadline_moved(decision.ticket, paused, now=T0, policy=CONFIG.policy).ticket.restore_deadline is None


# -- everyone involved, for the fault report (seed 000 rule 8)


def test_the_fault_report_data_names_everyone_involved() -> None:
    from dispatch.domain.involved import involved

    ticket = act(new_ticket().ticket, c.Accept(), AGENT)
    ticket = act(ticket, c.RecordContact(contacted_at=T0, reached=False, not_reached_reason="关机"), AGENT, LATER)
    ticket = leader_informed(ticket, escalation(), now=LATER, policy=CONFIG.policy).ticket
    people = involved(ticket)
    assert (people["duty_staff"], people["teams"]) == (["op-gz-01"], ["gz-access-ops"])
    assert [x["contractor"] for x in people["contractors"]] == ["gz-daiwei-01"]
    assert [(r["audience"], r["informed_by"]) for r in people["leaders_informed"]] == [("director", "sla-watch")]
    assert [(r["reached"], r["not_reached_reason"]) for r in people["customer_contacts"]] == [(False, "关机")]
