"""Intervals merged, clipped and measured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reporting.domain.intervals import clipped, merged, seconds

pytestmark = pytest.mark.unit
T = datetime(2026, 3, 2, tzinfo=UTC)


def m(n: int) -> datetime:
    return T + timedelta(minutes=n)


def test_overlapping_and_touching_intervals_merge() -> None:
    assert merged([(m(10), m(20)), (m(0), m(5)), (m(15), m(30)), (m(30), m(31))]) == [(m(0), m(5)), (m(10), m(31))]


def test_clipping_keeps_the_window_only() -> None:
    assert clipped([(m(-10), m(5)), (m(50), m(70))], (m(0), m(60))) == [(m(0), m(5)), (m(50), m(60))]


spans = st.lists(st.tuples(st.integers(-100, 200), st.integers(0, 100)), max_size=8)


@given(spans)
def test_the_union_is_no_longer_than_the_sum_and_no_shorter_than_the_longest(raw) -> None:
    intervals = [(m(s), m(s + n)) for s, n in raw]
    total = seconds(intervals)
    assert total <= sum(n * 60 for _, n in raw)
    assert total >= max((n * 60 for _, n in raw), default=0)
    assert seconds(clipped(intervals, (m(0), m(60)))) <= 3600
