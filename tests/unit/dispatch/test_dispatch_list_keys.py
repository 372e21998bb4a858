"""The keys the ticket list finds a ticket by: a live state's queue per scope, and opening days per scope."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch import store
from dispatch.domain import commands as c
from tests.unit.dispatch.builders import SUPERVISOR, T0, new_ticket

pytestmark = pytest.mark.unit


def test_a_live_ticket_is_listed_by_state_and_by_opening_day_for_everyone_and_its_teams() -> None:
    ticket = new_ticket().ticket
    assert store.list_keys(ticket) == [
        "*|2026-03-02", "gz-access-ops|2026-03-02", "*|dispatched", "gz-access-ops|dispatched",
    ]  # fmt: skip


def test_a_cancelled_ticket_leaves_every_queue_and_keeps_its_day() -> None:
    from tests.unit.dispatch.builders import act

    ticket = act(new_ticket().ticket, c.Cancel(reason="重复"), SUPERVISOR)
    assert store.list_keys(ticket) == ["*|2026-03-02", "gz-access-ops|2026-03-02"]


def test_a_live_state_is_the_queue_and_anything_else_a_window_of_days() -> None:
    until = T0 + timedelta(days=1)
    assert store.list_query(teams=["b", "a"], state="dispatched", since=T0, until=until) == [
        "a|dispatched",
        "b|dispatched",
    ]
    assert store.list_query(teams=None, state=None, since=T0 - timedelta(days=1), until=T0) == [
        "*|2026-03-01", "*|2026-03-02",
    ]  # fmt: skip
    assert store.list_query(teams=["a"], state="closed", since=T0, until=until) == ["a|2026-03-02", "a|2026-03-03"]
    assert store.list_query(teams=[], state=None, since=T0, until=until) == []
