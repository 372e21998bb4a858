"""The ledger's stored clock states stand in for a second replay, and settled tickets get a purge date."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from huying.events import Tier
from sla_watch.domain import (
    clocks_data,
    clocks_from,
    move_reason,
    purge_after,
    settled,
    transitions,
    year_purge_after,
)
from tests.unit.sla_watch import builders as b

pytestmark = pytest.mark.unit

HORIZON = timedelta(days=90)


def life() -> list:
    """A ticket that goes through most of what moves clocks: dispatch, transfer, suspension, exclusion, tier
    change, resolution, reopening, a report request, the internal report, closure and the follow-up call."""
    return [
        b.opened(0, tier=b.Tier.SILVER, reported=-3),
        b.dispatched(1, "team-1"),
        b.transferred(4, "team-1", "team-2"),
        b.accepted(6, "team-2"),
        b.contacted(9),
        b.noted(20),
        b.suspended(30),
        b.resumed(45),
        b.excluded(50, 10, 15),
        b.tier_changed(55, Tier.GOLD),
        b.resolved(90),
        b.reopened(100),
        b.resolved(130),
        b.report_requested(140),
        b.confirmed(150),
        b.report_submitted(200),
        b.report_submitted(205, "internal"),
        b.closed(210),
        b.followed_up(220),
    ]


def test_stored_clock_states_read_back_equal_through_json() -> None:
    sla = b.run(*life()[:8])  # suspended and resumed: gaps, open and closed
    stored = json.loads(json.dumps(clocks_data(sla.clocks)))
    assert clocks_from(stored) == sla.clocks


def test_transitions_from_the_stored_states_equal_those_from_a_second_replay() -> None:
    events = life()
    for n in range(1, len(events)):
        before, after = b.run(*events[:n]), b.run(*events[: n + 1])
        stored = clocks_from(json.loads(json.dumps(clocks_data(before.clocks))))
        reason = move_reason(events[n])
        assert transitions(stored, after, reason=reason) == transitions(before, after, reason=reason), events[n].type


def test_a_ticket_settles_when_no_clock_runs_and_nothing_is_pending() -> None:
    now = b.at(300)
    open_ticket = b.run(b.opened(0))
    assert not settled(open_ticket, pending=True)
    assert purge_after(open_ticket, pending=True, now=now, horizon=HORIZON) is None
    paused = b.run(b.opened(0), b.dispatched(1), b.accepted(2), b.contacted(3), b.suspended(5))
    assert not settled(paused, pending=False)  # a paused clock still runs
    done = b.run(*life())
    assert not any(c.running for c in done.clocks)
    assert purge_after(done, pending=False, now=now, horizon=HORIZON) == now + HORIZON
    assert purge_after(None, pending=False, now=now, horizon=HORIZON) == now + HORIZON  # never opened


def test_a_lines_faults_are_kept_a_horizon_after_their_shanghai_year() -> None:
    assert year_purge_after(2026, HORIZON) == datetime(2026, 12, 31, 16, tzinfo=UTC) + HORIZON
