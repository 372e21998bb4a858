"""Timers as stored: named fields that read back equal whatever a team name holds; the first, packed form (one
string per timer) still read; data that is not a timer refused with an error (a load skips it)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huying.events import ClockKind
from sla_watch.domain import Timer, TimerKind, pending_timers, stored_timer_id, timer_data, timer_from_data
from sla_watch.domain.snapshot import PACKED_SEP
from tests.unit.sla_watch import builders as b

pytestmark = pytest.mark.unit

ODD_TEAMS = ["gz\x1faccess", "a|b", "nul\x00in", "$team.with.dots", "广州接入维护", "🚀\n\t", " ", "\x1f", ""]


def timers() -> list[Timer]:
    return list(pending_timers(b.run(b.opened(0), b.dispatched(1, "gz-access-ops")), now=b.at(0)))


def packed(timer: Timer) -> str:
    """The first stored form, as sla-watch wrote it before issue 11."""
    fields = (
        str(timer.timer_id), timer.clock.value, str(timer.seq), timer.kind.value, timer.due_at.isoformat(),
        timer.deadline.isoformat(), timer.policy_version, "1" if timer.retroactive else "", timer.subject or "",
    )  # fmt: skip
    return PACKED_SEP.join(fields)


@pytest.mark.parametrize("team", ODD_TEAMS)
def test_a_timer_reads_back_equal_whatever_its_team_name_holds(team: str) -> None:
    for timer in timers():
        odd = replace(timer, subject=team, due_at=timer.due_at + timedelta(microseconds=123457))
        data = timer_data(odd)
        assert timer_from_data(odd.ticket_id, data) == odd
        assert stored_timer_id(data) == str(odd.timer_id)


@given(
    subject=st.none() | st.text(),
    policy=st.text(min_size=1),
    seq=st.integers(min_value=0, max_value=10_000),
    retroactive=st.booleans(),
    micros=st.integers(min_value=0, max_value=999_999),
)
def test_any_timer_round_trips(subject, policy, seq, retroactive, micros) -> None:
    timer = Timer(
        uuid.uuid4(), b.TICKET, ClockKind.ACCEPTANCE, seq, TimerKind.BREACH,
        b.at(3) + timedelta(microseconds=micros), b.at(10), policy, retroactive=retroactive, subject=subject,
    )  # fmt: skip
    assert timer_from_data(b.TICKET, timer_data(timer)) == timer


def test_the_packed_form_of_documents_written_before_is_upcast() -> None:
    for timer in timers():
        assert timer_from_data(timer.ticket_id, packed(timer)) == timer
        assert stored_timer_id(packed(timer)) == str(timer.timer_id)
    # its subject came last, so a separator inside a team name is read back too (it broke the old reader)
    odd = replace(timers()[0], subject="gz\x1faccess\x1fops", retroactive=True)
    assert timer_from_data(odd.ticket_id, packed(odd)) == odd


@pytest.mark.parametrize(
    "bad",
    [
        "not a timer",
        PACKED_SEP.join(["x"] * 9),
        packed(timers()[0]).replace(PACKED_SEP + "2026", PACKED_SEP + "2026" + PACKED_SEP, 1),  # shifted fields
        {},
        {**timer_data(timers()[0]), "clock": "no-such-clock"},
        {**timer_data(timers()[0]), "seq": "1"},
        {**timer_data(timers()[0]), "due_at": "2026-03-02T09:15:00"},  # no time zone
        {**timer_data(timers()[0]), "subject": 7},
        {**timer_data(timers()[0]), "retroactive": "yes"},
        {k: v for k, v in timer_data(timers()[0]).items() if k != "deadline"},
    ],
)
def test_data_that_is_not_a_timer_is_refused(bad) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        timer_from_data(b.TICKET, bad)
