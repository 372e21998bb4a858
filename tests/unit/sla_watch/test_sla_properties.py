"""Invariants over generated ticket histories (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huying.events import Channel, ClockKind, Scope, Tier
from sla_watch.domain import Span, deadline_for, pending_timers, transitions
from sla_watch.domain.intervals import counted, merge, run_until

from . import builders as b

pytestmark = pytest.mark.unit

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ACTIONS = (
    "dispatch",
    "accept",
    "contact",
    "note",
    "quiet_note",
    "suspend",
    "bad_suspend",
    "resume",
    "exclude",
    "resolve",
    "confirm",
    "reopen",
    "close",
    "report",
    "request",
    "transfer",
)

steps = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 90)), max_size=14)


@st.composite
def plans(draw):
    """A ticket's story without its tier: opening facts and timed actions."""
    scope = draw(st.sampled_from(list(Scope)))
    channel = draw(st.sampled_from([Channel.HOTLINE, Channel.GREEN_CHANNEL, Channel.MONITORING]))
    alarm = draw(st.none() | st.integers(-30, 0))
    opened_at = draw(st.sampled_from([0, 0, 0, 400]))  # sometimes a late back-fill
    return scope, channel, alarm, opened_at, draw(steps)


def build(plan, tier: Tier) -> list:
    scope, channel, alarm, opened_at, actions = plan
    events = [b.opened(opened_at, tier=tier, scope=scope, channel=channel, reported=0, alarm=alarm)]
    minute = opened_at
    for action, gap in actions:
        minute += gap
        events.append(_event(action, minute, gap))
    return events


@st.composite
def histories(draw):
    return build(draw(plans()), draw(st.sampled_from(list(Tier))))


def _event(action: str, m: int, gap: int):
    makers = {
        "dispatch": lambda: b.dispatched(m, "a"),
        "accept": lambda: b.accepted(m, "a"),
        "contact": lambda: b.contacted(m),
        "note": lambda: b.noted(m),
        "quiet_note": lambda: b.noted(m, informed=False),
        "suspend": lambda: b.suspended(m),
        "bad_suspend": lambda: b.suspended(m, consent=None),
        "resume": lambda: b.resumed(m),
        "exclude": lambda: b.excluded(m, start=m - gap, end=m),
        "resolve": lambda: b.resolved(m, restored=m - gap // 2),
        "confirm": lambda: b.confirmed(m),
        "reopen": lambda: b.reopened(m),
        "close": lambda: b.closed(m),
        "report": lambda: b.report_submitted(m),
        "request": lambda: b.report_requested(m),
        "transfer": lambda: b.transferred(m, "a", "core"),
    }
    return makers[action]()


def _deadlines(sla):
    return {c.key: c.deadline for c in sla.clocks}


def _not_earlier(before, after) -> None:
    for key, old in _deadlines(before).items():
        new = _deadlines(after).get(key, "missing")
        assert new != "missing", key
        assert old is None or new is None or new >= old, (key, old, new)


@PROPERTY
@given(histories(), st.integers(0, 600), st.integers(1, 240))
def test_pausing_never_moves_a_deadline_earlier(events, start, length) -> None:
    # The added pause must be a new pause: its resume would otherwise end one the history left open.
    events = [e for e in events if e.type not in ("TicketSuspended", "TicketResumed")]
    before = b.run(*events)
    after = b.run(*events, b.suspended(start), b.resumed(start + length))
    _not_earlier(before, after)


@PROPERTY
@given(histories(), st.integers(-60, 600), st.integers(1, 240))
def test_excluding_never_moves_a_deadline_earlier(events, start, length) -> None:
    before = b.run(*events)
    after = b.run(*events, b.excluded(start + length, start=start, end=start + length))
    _not_earlier(before, after)


@PROPERTY
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(1, 120)), max_size=5), st.integers(1, 600))
def test_paused_time_never_counts(pauses, restored) -> None:
    events, minute, paused = [b.opened()], 0, []
    for gap, length in pauses:
        start, minute = minute + gap, minute + gap + length
        events += [b.suspended(start), b.resumed(minute)]
        paused.append((start, minute))
    end = minute + restored
    restore = b.run(*events, b.resolved(end)).clock(ClockKind.RESTORE)
    suspended_minutes = sum(e - s for s, e in paused)
    assert restore.elapsed_s == pytest.approx((end - suspended_minutes) * 60)
    limit = 120
    counted_before_deadline = (restore.deadline - b.T0).total_seconds() / 60 - sum(
        max(0, min(e, b.minutes_between(b.T0, restore.deadline)) - s) for s, e in paused
    )
    assert counted_before_deadline == pytest.approx(limit)


@PROPERTY
@given(st.lists(st.tuples(st.integers(-100, 500), st.integers(0, 200)), max_size=6), st.integers(0, 900))
def test_interval_arithmetic_agrees_with_counting_minute_by_minute(raw, budget) -> None:
    gaps = merge((b.at(s), b.at(s + length)) for s, length in raw)
    deadline = run_until(b.T0, timedelta(minutes=budget), gaps)
    brute = sum(
        1
        for m in range(0, budget + 2000)
        if not any(s <= b.at(m + 0.5) < e for s, e in gaps) and m < b.minutes_between(b.T0, deadline)
    )
    assert brute == budget
    assert counted(b.T0, deadline, gaps) == timedelta(minutes=budget)


@PROPERTY
@given(plans())
def test_gold_deadlines_are_never_later_than_silvers(plan) -> None:
    silver, gold = b.run(*build(plan, Tier.SILVER)), b.run(*build(plan, Tier.GOLD))
    gold_clocks = {c.key: c for c in gold.clocks}
    for clock in silver.clocks:
        other = gold_clocks.get(clock.key)
        # 表74 compares different units: gold's 2 working days can outlast silver's 7 calendar days (Spring
        # Festival), so the written report is excluded here and pinned by an example test instead.
        if other is None or clock.kind is ClockKind.WRITTEN_REPORT or None in (clock.deadline, other.deadline):
            continue
        assert other.deadline <= clock.deadline, clock.key


@PROPERTY
@given(histories(), st.randoms(use_true_random=False))
def test_replay_is_deterministic_and_ignores_order_and_redelivery(events, rnd) -> None:
    expected = b.run(*events)
    shuffled = events + rnd.sample(events, k=min(3, len(events)))
    rnd.shuffle(shuffled)
    again = b.run(*shuffled)
    assert again == expected
    assert transitions(expected, again) == ()
    now = b.at(rnd.randint(0, 900))
    assert pending_timers(again, now=now) == pending_timers(expected, now=now)


def test_gold_written_report_can_outlast_silvers_across_the_spring_festival() -> None:
    from sla_watch.domain import SHANGHAI

    resolved = b.T0.replace(month=2, day=13, hour=7)  # Friday 15:00 in Shanghai
    gold = deadline_for(Span(working_days=2), start=resolved, calendar=b.CALENDAR).deadline
    silver = deadline_for(Span(days=7), start=resolved, calendar=b.CALENDAR).deadline
    assert gold.astimezone(SHANGHAI).day == 25 and silver.astimezone(SHANGHAI).day == 21
    assert gold > silver
