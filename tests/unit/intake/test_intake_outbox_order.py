"""The outbox's order and the relay's ranges, pure: writes never tie or go back, and the relay's cursor reads every
pending document in bounded ranges, catching up from an old backlog and returning for a straggler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from huying.clock import ManualClock
from intake.relay import SECOND, OutboxCursor
from intake.store import Sequencer, order_at

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_orders_follow_the_clock_never_tie_and_never_go_back() -> None:
    clock = ManualClock(T0)
    sequence = Sequencer(clock)
    same_moment = [sequence.next() for _ in range(5)]  # a batch written at once (the clock does not move)
    assert same_moment == sorted(same_moment) and len(set(same_moment)) == 5
    assert same_moment[0] == order_at(T0)
    clock.advance(timedelta(seconds=-3))  # the wall clock steps back (NTP)
    after_step = sequence.next()
    assert after_step > same_moment[-1]
    clock.advance(timedelta(seconds=10))
    assert sequence.next() == order_at(T0 + timedelta(seconds=7))
    assert order_at(T0 + timedelta(seconds=1)) - order_at(T0) == SECOND


def drain(cursor: OutboxCursor, pending: list[int], now: int, *, limit: int = 2000) -> list[int]:
    """What a relay pass publishes (as IntakeRelay.relay_once does, against a sorted list standing in for the
    collection); returns the orders in publication order and removes them from `pending`."""
    published: list[int] = []
    for _ in range(1000):
        low, high = cursor.window()
        found = sorted(o for o in pending if low <= o < high)[:limit]
        published += found
        for order in found:
            pending.remove(order)
        if cursor.read(now=now, found=len(found), last=found[-1] if found else None, capped=len(found) >= limit):
            break
    return published


def test_the_cursor_publishes_everything_in_order_in_bounded_ranges() -> None:
    now = order_at(T0)
    cursor = OutboxCursor(now - 5 * SECOND, target=500)
    pending = [now - SECOND + n for n in range(3000)]  # a dense burst: 3,000 writes within 3 µs
    published = drain(cursor, pending, now)
    assert published == sorted(published) and len(published) == 3000 and not pending
    assert cursor.floor == now - cursor.grace, "a write may still land within the grace: the floor waits there"


def test_the_cursor_catches_up_from_an_old_backlog_and_goes_back_for_a_straggler() -> None:
    now = order_at(T0)
    old = now - 3 * 3600 * SECOND  # left by a run that stopped three hours ago
    cursor = OutboxCursor(now - 5 * SECOND)
    cursor.straggler(old)  # what the relay's start-up `$lt floor` query found
    pending = [old, old + 7, now - 2 * 3600 * SECOND, now - 2 * SECOND]
    assert drain(cursor, pending, now) == [old, old + 7, now - 2 * 3600 * SECOND, now - 2 * SECOND]
    late = now - 30 * SECOND  # landed after the floor had passed it (a writer stalled past the grace)
    pending = [late]
    assert drain(cursor, pending, now + SECOND) == [] and pending == [late]
    cursor.straggler(late)  # the periodic `$lt floor` check
    assert drain(cursor, pending, now + SECOND) == [late]
