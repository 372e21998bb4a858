"""Routing rules, the duty roster and the acceptance-breach policy, on the packaged configuration files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.config_loader import load_config
from dispatch.domain import commands as c
from dispatch.domain.automatic import on_acceptance_breach, open_ticket, routing_input
from dispatch.domain.model import ItemStatus, State
from dispatch.domain.roster import Roster, pick_assignee
from dispatch.domain.routing import RoutingInput, route
from dispatch.settings import CONFIG_DIR
from huying.events import DutyNotificationRequested, IncidentOpened, TicketDispatched, TicketTransferred
from tests.unit.dispatch.builders import AGENT, CONFIG, T0, act, breach, new_ticket

pytestmark = pytest.mark.unit
RULES = CONFIG.rules


@pytest.mark.parametrize(
    ("ticket", "rule", "teams"),
    [
        (RoutingInput(category="access", city="深圳", tier="silver"), "by-city", ("sz-access-ops",)),
        (RoutingInput(category="access", city="中山"), "by-city", ("pw-access-ops",)),
        (RoutingInput(category="access", city="拉萨"), "by-city", ("gd-noc",)),  # no team for the city
        (RoutingInput(category="access", city="广州", core_network=True), "core-network", ("prov-core-network",)),
        (RoutingInput(category="overlay", city="广州"), "overlay-by-city", ("gz-overlay-ops",)),
        (RoutingInput(category="overlay", city="汕头"), "overlay-province", ("gd-overlay-ops",)),
        (
            RoutingInput(category="access", city="广州", cities=("深圳", "珠海"), scope="inter_city", tier="gold"),
            "gold-inter-city",
            ("gz-access-ops", "sz-access-ops", "pw-access-ops"),
        ),
        (
            RoutingInput(category="access", city="广州", cities=("深圳",), scope="inter_province", tier="gold"),
            "gold-inter-province",
            ("prov-transport", "gz-access-ops", "sz-access-ops"),
        ),
        (  # silver inter-city: only the fault's city (multi-city dispatch is the gold rule)
            RoutingInput(category="access", city="广州", cities=("深圳",), scope="inter_city", tier="silver"),
            "by-city",
            ("gz-access-ops",),
        ),
        (
            RoutingInput(kind="incident", category="overlay", city="深圳"),
            "severe-incident",
            ("gd-noc", "sz-overlay-ops"),
        ),
    ],
)
def test_routing_rules(ticket, rule, teams) -> None:
    chosen = route(ticket, RULES)
    assert (chosen.rule, chosen.teams) == (rule, teams)


def test_a_region_condition_matches_its_cities(tmp_path) -> None:
    routing = (CONFIG_DIR / "routing.yaml").read_text(encoding="utf-8")
    routing = routing.replace("rules:\n", "rules:\n  - {name: east, when: {region: [粤东西]}, teams: [gd-noc]}\n", 1)
    (tmp_path / "routing.yaml").write_text(routing, encoding="utf-8")
    config = load_config(tmp_path / "routing.yaml", CONFIG_DIR / "roster.yaml", reopen_window=timedelta(days=1))
    assert route(RoutingInput(category="access", city="汕头"), config.rules).rule == "east"
    assert route(RoutingInput(category="access", city="广州"), config.rules).rule == "by-city"


def test_a_rule_naming_a_team_missing_from_the_roster_stops_start_up(tmp_path) -> None:
    routing = (CONFIG_DIR / "routing.yaml").read_text(encoding="utf-8").replace("gd-noc", "gd-nobody")
    (tmp_path / "routing.yaml").write_text(routing, encoding="utf-8")
    with pytest.raises(ValueError, match="gd-nobody"):
        load_config(tmp_path / "routing.yaml", CONFIG_DIR / "roster.yaml", reopen_window=timedelta(days=1))


def test_shifts_decide_who_is_on_duty_including_overnight() -> None:
    roster: Roster = CONFIG.roster
    shanghai = lambda h: datetime(2026, 3, 2, h, 30, tzinfo=UTC) - timedelta(hours=8)  # noqa: E731
    assert roster.on_duty("gz-access-ops", shanghai(10)) == ["op-gz-01", "op-gz-02"]
    assert roster.on_duty("gz-access-ops", shanghai(23)) == ["op-gz-03"]
    assert roster.on_duty("gz-access-ops", shanghai(3)) == ["op-gz-03"]
    assert roster.on_duty("sz-access-ops", shanghai(3)) == ["op-sz-01", "op-sz-02"]  # no shifts: always
    assert roster.on_duty("no-such-team", shanghai(3)) == []


def test_assignment_is_least_loaded_then_roster_order_avoiding_who_already_failed() -> None:
    people = ["a", "b", "c"]
    assert pick_assignee(people, {}) == "a"
    assert pick_assignee(people, {"a": 2, "b": 1, "c": 1}) == "b"
    assert pick_assignee(people, {"b": 0}, avoid=["a", "b"]) == "c"
    assert pick_assignee(["a"], {}, avoid=["a"]) == "a"  # nobody else on duty: the same person again
    assert pick_assignee([], {}) is None


def test_an_acceptance_breach_redispatches_to_another_member_then_escalates() -> None:
    ticket = new_ticket().ticket
    duty = {"gz-access-ops": ["op-gz-01", "op-gz-02"], "gd-duty-supervisors": ["sup-gd-01", "sup-gd-02"]}
    first_at = T0 + timedelta(minutes=10)
    first = on_acceptance_breach(ticket, breach(ticket, "gz-access-ops", first_at), rules=RULES, duty=duty,
                                 loads={}, now=first_at, policy=CONFIG.policy)  # fmt: skip
    assert first is not None and [h.action for h in first.history] == ["redispatch"]
    event, duty_call = first.events
    assert isinstance(event, TicketDispatched) and event.redispatch and event.teams == ["gz-access-ops"]
    assert isinstance(duty_call, DutyNotificationRequested) and duty_call.staff_id == "op-gz-02"  # the new member
    item = first.ticket.work_items[0]
    assert (item.assignee, item.dispatched_at, item.breaches) == ("op-gz-02", first_at, 1)

    stale = breach(ticket, "gz-access-ops", first_at)  # a redelivered or late copy of the first breach
    assert on_acceptance_breach(first.ticket, stale, rules=RULES, duty=duty, loads={}, now=first_at,
                                policy=CONFIG.policy) is None  # fmt: skip

    second_at = first_at + timedelta(minutes=10)
    second = on_acceptance_breach(first.ticket, breach(ticket, "gz-access-ops", second_at), rules=RULES, duty=duty,
                                  loads={"sup-gd-01": 3}, now=second_at, policy=CONFIG.policy)  # fmt: skip
    assert second is not None and [h.action for h in second.history] == ["escalate"]
    moved, duty_call = second.events
    assert isinstance(moved, TicketTransferred) and moved.to_team == "gd-duty-supervisors"
    assert (duty_call.team, duty_call.staff_id, duty_call.name) == ("gd-duty-supervisors", "sup-gd-02", "郑涛")
    assert [(i.team, i.status, i.assignee) for i in second.ticket.work_items] == [
        ("gz-access-ops", ItemStatus.TRANSFERRED, "op-gz-02"),
        ("gd-duty-supervisors", ItemStatus.DISPATCHED, "sup-gd-02"),
    ]
    assert second.history[0].before["work_items/0/breaches"] == 1 and second.ticket.version == ticket.version + 2


def test_a_breach_after_acceptance_changes_nothing() -> None:
    ticket = act(new_ticket().ticket, c.Accept(), AGENT)
    late = breach(ticket, "gz-access-ops", T0 + timedelta(minutes=10))
    assert on_acceptance_breach(ticket, late, rules=RULES, duty={}, loads={}, now=T0, policy=CONFIG.policy) is None
    assert ticket.state == State.ACCEPTED


def test_an_incident_breach_escalates_at_once_as_its_rule_says() -> None:

    event = IncidentOpened(ticket_id="I-1", category="overlay", city="深圳", reported_at=T0, reason="3 reports")
    chosen = route(routing_input(event), CONFIG.rules)
    ticket = open_ticket(event, route=chosen, cities=(), assignees={}, now=T0, policy=CONFIG.policy).ticket
    assert ticket.kind == "incident" and ticket.severity == "severe"
    at = T0 + timedelta(minutes=10)
    late = breach(ticket, "gd-noc", at)
    decision = on_acceptance_breach(ticket, late, rules=RULES, duty={}, loads={}, now=at, policy=CONFIG.policy)
    assert decision is not None and decision.events[0].to_team == "gd-duty-supervisors"
