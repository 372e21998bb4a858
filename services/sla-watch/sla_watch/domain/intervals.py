"""Interval arithmetic for clocks: time that does not count (pauses, exclusions, reopen gaps)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

# (start, end); end None = still open (a suspension not yet resumed).
Gap = tuple[datetime, datetime | None]

_ZERO = timedelta(0)


def merge(gaps: Iterable[Gap]) -> tuple[Gap, ...]:
    """Sorted, non-overlapping union of `gaps`; an open gap swallows everything after its start."""
    merged: list[list] = []
    for start, end in sorted(gaps, key=lambda g: g[0]):
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
            last = merged[-1]
            last[1] = None if end is None or last[1] is None else max(last[1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def clip(gaps: Iterable[Gap], lo: datetime, hi: datetime | None) -> tuple[Gap, ...]:
    """Merged `gaps` restricted to [lo, hi] (hi None = unbounded); empty pieces dropped."""
    out: list[Gap] = []
    for start, end in merge(gaps):
        s = max(start, lo)
        e = end if hi is None else (hi if end is None else min(end, hi))
        if e is None or e > s:
            out.append((s, e))
    return tuple(out)


def counted(start: datetime, at: datetime, gaps: tuple[Gap, ...]) -> timedelta:
    """Time in [start, at] outside `gaps` (which must be merged)."""
    if at <= start:
        return _ZERO
    total = at - start
    for s, e in gaps:
        s, e = max(s, start), at if e is None else min(e, at)
        if e > s:
            total -= e - s
    return total


def run_until(start: datetime, budget: timedelta, gaps: tuple[Gap, ...]) -> datetime | None:
    """When `budget` of counted time is used from `start`; None while an open gap holds it paused."""
    t, remaining = start, budget
    for s, e in gaps:
        if e is not None and e <= t:
            continue
        s = max(s, t)
        if s >= t + remaining:
            break
        remaining -= s - t
        if e is None:
            return None
        t = e
    return t + remaining
