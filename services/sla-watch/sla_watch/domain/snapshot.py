"""A ticket's clock states as plain data, stored with its ledger: the next event's "before" is read back from
it instead of replaying the ledger a second time (one replay per event).

Datetimes are ISO strings, not BSON dates: a database date keeps milliseconds only, while deadlines are compared
exactly (a lost microsecond would read as a moved deadline) and event ids derive from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from huying.events import ClockKind
from sla_watch.domain.clocks import ClockState, Outcome


def _t(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _d(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def clocks_data(clocks: Iterable[ClockState]) -> list[list[Any]]:
    """Clock states → lists of strings, numbers and booleans (what `clocks_from` reads back, equal)."""
    return [
        [
            c.kind.value,
            c.seq,
            _t(c.started_at),
            c.budget_s,
            _t(c.deadline),
            _t(c.warn_at),
            _t(c.stopped_at),
            c.outcome.value,
            c.elapsed_s,
            [[_t(start), _t(end)] for start, end in c.gaps],
            c.subject,
            c.provisional,
            c.retroactive,
        ]
        for c in clocks
    ]


def clocks_from(data: Sequence[Sequence[Any]]) -> tuple[ClockState, ...]:
    out = []
    for kind, seq, started, budget, deadline, warn, stopped, outcome, elapsed, gaps, subject, prov, retro in data:
        out.append(
            ClockState(
                ClockKind(kind),
                int(seq),
                datetime.fromisoformat(started),
                float(budget),
                _d(deadline),
                _d(warn),
                _d(stopped),
                Outcome(outcome),
                elapsed,
                tuple((datetime.fromisoformat(start), _d(end)) for start, end in gaps),
                subject,
                bool(prov),
                bool(retro),
            )
        )
    return tuple(out)
