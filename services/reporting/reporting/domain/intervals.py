"""Time arithmetic of the facts: intervals merged, clipped and measured (no clock reads)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

Interval = tuple[datetime, datetime]


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of the intervals as disjoint, sorted ones (empty and inverted ones dropped)."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def clipped(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """The parts of the intervals inside the window, merged."""
    low, high = window
    return merged((max(s, low), min(e, high)) for s, e in intervals)


def seconds(intervals: Iterable[Interval]) -> float:
    """Total length of the union of the intervals, in seconds (overlaps counted once)."""
    return sum((e - s).total_seconds() for s, e in merged(intervals))
