"""Every resolution carries a cause category (DOMAIN.md "Only the operator's equipment counts"); operator work
promises the customer a dedicated notice (seed 001 2)-(9)c); the follow-up (回访) records who, how, when, whom."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from dispatch.config_loader import load_config
from dispatch.domain import commands as c
from dispatch.domain.actions import decide
from dispatch.domain.causes import DEDICATED_NOTICE, PRECEDENCE, ticket_category
from dispatch.domain.lifecycle import InvalidCommand
from dispatch.domain.model import State
from dispatch.settings import CONFIG_DIR
from huying.events import OPERATOR_CAUSES, CauseCategory, SatisfactionRecorded, TicketResolved
from tests.unit.dispatch.builders import AGENT, CONFIG, CS, FOLLOW_UP, RESTORED, T0, act, ticket_in

pytestmark = pytest.mark.unit
LATER = T0 + timedelta(hours=1)


def _resolve(category: str, at=LATER):
    working = ticket_in(State.IN_PROGRESS)
    return decide(working, c.Resolve(**RESTORED | {"cause_category": category}), actor=AGENT, now=at,
                  policy=CONFIG.policy)  # fmt: skip


def test_a_resolution_without_a_known_cause_category_is_refused_naming_the_field() -> None:
    without = {k: v for k, v in RESTORED.items() if k != "cause_category"}
    for body in (without, without | {"cause_category": "weather"}):
        with pytest.raises(ValidationError) as caught:
            c.Resolve(**body)
        assert [e["loc"] for e in caught.value.errors()] == [("cause_category",)]


@pytest.mark.parametrize("category", list(CauseCategory), ids=str)
def test_the_cause_category_is_stored_on_the_ticket_and_published(category: CauseCategory) -> None:
    decision = _resolve(category)
    [event] = decision.events
    assert isinstance(event, TicketResolved) and event.cause_category == category
    assert decision.ticket.cause_category == category == decision.ticket.work_items[0].cause_category
    assert decision.history[0].after["cause_category"] == category


def test_operator_work_leaves_a_dedicated_notice_due_by_policy_and_nothing_else_does() -> None:
    decision = _resolve(CauseCategory.OPERATOR_WORK)
    [notice] = decision.ticket.follow_ups
    assert notice.kind == DEDICATED_NOTICE and notice.created_at == LATER
    assert notice.due_at == LATER + CONFIG.policy.dedicated_notice.due == LATER + timedelta(hours=48)
    assert "专门向客户通报" in notice.description
    assert decision.history[0].after["follow_ups/0/due_at"] == notice.due_at.isoformat().replace("+00:00", "Z")
    for other in set(CauseCategory) - {CauseCategory.OPERATOR_WORK}:
        assert _resolve(other).ticket.follow_ups == []


def test_a_reopened_ticket_resolved_again_keeps_its_one_promise_and_its_due_time() -> None:
    first = _resolve(CauseCategory.OPERATOR_WORK).ticket
    again = act(first, c.Reopen(reason="仍无法访问"), CS, LATER + timedelta(hours=1))
    assert again.cause_category is None and again.follow_ups == first.follow_ups
    resolved = act(
        again, c.Resolve(**RESTORED | {"cause_category": "operator_work"}), AGENT, LATER + timedelta(hours=2)
    )
    assert resolved.follow_ups == first.follow_ups


@given(st.lists(st.sampled_from(list(CauseCategory)), min_size=1, max_size=4))
def test_a_ticket_is_the_operators_when_any_team_found_an_operator_cause(teams: list[CauseCategory]) -> None:
    category = ticket_category(teams)
    assert category in teams
    assert (category in OPERATOR_CAUSES) == any(t in OPERATOR_CAUSES for t in teams)
    assert category == min(teams, key=PRECEDENCE.index)


def test_the_notice_due_time_is_policy_data(tmp_path) -> None:
    (tmp_path / "policy.yaml").write_text("dedicated_notice: {description: 专门通报, due_hours: 24}\n")
    config = load_config(CONFIG_DIR / "routing.yaml", CONFIG_DIR / "roster.yaml", reopen_window=timedelta(days=1),
                         policy_file=tmp_path / "policy.yaml")  # fmt: skip
    assert config.policy.dedicated_notice.due == timedelta(hours=24)
    (tmp_path / "policy.yaml").write_text("dedicated_notise: {due_hours: 24}\n")
    with pytest.raises(ValueError, match="dedicated_notise"):
        load_config(CONFIG_DIR / "routing.yaml", CONFIG_DIR / "roster.yaml", reopen_window=timedelta(days=1),
                    policy_file=tmp_path / "policy.yaml")  # fmt: skip


def test_the_follow_up_records_who_called_how_when_and_whom_they_reached() -> None:
    closed = ticket_in(State.CLOSED)
    at = closed.resolved_at + timedelta(hours=3)
    command = c.RecordSatisfaction(satisfied=False, comment="恢复太慢", **FOLLOW_UP | {"called_at": at})
    decision = decide(closed, command, actor=CS, now=at, policy=CONFIG.policy)
    [event] = decision.events
    assert isinstance(event, SatisfactionRecorded)
    assert (event.called_by, event.method, event.called_at, event.reached) == ("cs-01", "phone", at, "王伟")
    assert (event.satisfied, event.comment, decision.ticket.satisfied) == (False, "恢复太慢", False)


def test_a_follow_up_is_refused_before_the_resolution_or_in_the_future_or_without_its_facts() -> None:
    closed = ticket_in(State.CLOSED)
    for called_at in (closed.resolved_at - timedelta(minutes=1), LATER + timedelta(hours=1)):
        command = c.RecordSatisfaction(satisfied=True, **FOLLOW_UP | {"called_at": called_at})
        with pytest.raises(InvalidCommand, match="called_at"):
            decide(closed, command, actor=CS, now=LATER, policy=CONFIG.policy)
    with pytest.raises(ValidationError) as caught:
        c.RecordSatisfaction(satisfied=True, method="carrier_pigeon")
    assert {e["loc"][0] for e in caught.value.errors()} == {"called_by", "method", "called_at", "reached"}
