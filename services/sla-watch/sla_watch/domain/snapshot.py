"""A ticket's clock states and pending timers as plain data: the clock states are stored with its ledger (the
next event's "before" is read back from them instead of replaying the ledger a second time: one replay per
event), the timers in its `timers` document (what a takeover loads).

Datetimes are ISO strings, not BSON dates: a database date keeps milliseconds only, while deadlines are compared
exactly (a lost microsecond would read as a moved deadline) and event ids derive from them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from huying.events import ClockKind
from sla_watch.domain.clocks import ClockState, Outcome
from sla_watch.domain.timers import Timer, TimerKind

# The first stored form of a timer (before issue 11) was one string of its fields joined by this separator; a
# team name holding it could not be read back. Still read (`timer_from_data`); no longer written.
PACKED_SEP = "\x1f"
_PACKED_FIELDS = 9


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


def timer_data(timer: Timer) -> dict[str, Any]:
    """A timer as stored: named fields, so no value (a team name, a policy version) can break reading it back;
    `retroactive` and `subject` only when set."""
    data: dict[str, Any] = {
        "timer_id": str(timer.timer_id),
        "clock": timer.clock.value,
        "seq": timer.seq,
        "kind": timer.kind.value,
        "due_at": timer.due_at.isoformat(),
        "deadline": timer.deadline.isoformat(),
        "policy_version": timer.policy_version,
    }
    if timer.retroactive:
        data["retroactive"] = True
    if timer.subject is not None:
        data["subject"] = timer.subject
    if timer.started_at is not None:
        data["started_at"] = timer.started_at.isoformat()
    return data


def stored_timer_id(data: Mapping[str, Any] | str) -> str:
    """The id of a stored timer in either form (what its ticket's `fired` set holds once it fired)."""
    return data.split(PACKED_SEP, 1)[0] if isinstance(data, str) else str(data["timer_id"])


def timer_from_data(ticket_id: str, data: Mapping[str, Any] | str) -> Timer:
    """`timer_data` read back, or the packed string of the first form (upcast). Raises ValueError, KeyError or
    TypeError for data that is not a timer."""
    fields = _unpacked(data) if isinstance(data, str) else data
    seq, retroactive, subject = fields["seq"], fields.get("retroactive", False), fields.get("subject")
    if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(retroactive, bool):
        raise TypeError(f"seq {seq!r} or retroactive {retroactive!r} of the wrong type")
    if not (subject is None or isinstance(subject, str)) or not isinstance(fields["policy_version"], str):
        raise TypeError(f"subject {subject!r} or policy version {fields['policy_version']!r} of the wrong type")
    return Timer(
        uuid.UUID(fields["timer_id"]),
        ticket_id,
        ClockKind(fields["clock"]),
        seq,
        TimerKind(fields["kind"]),
        _aware(fields["due_at"]),
        _aware(fields["deadline"]),
        fields["policy_version"],
        retroactive=retroactive,
        subject=subject,
        started_at=_aware(fields["started_at"]) if fields.get("started_at") is not None else None,
    )


def _unpacked(text: str) -> dict[str, Any]:
    """The packed form's fields by name. The subject (a team name) came last: a separator inside it stays in it."""
    parts = text.split(PACKED_SEP, _PACKED_FIELDS - 1)
    if len(parts) != _PACKED_FIELDS:
        raise ValueError(f"a packed timer has {_PACKED_FIELDS} fields, this one {len(parts)}")
    timer_id, clock, seq, kind, due, deadline, policy, retro, subject = parts
    if retro not in ("", "1"):
        raise ValueError(f"packed retroactive flag {retro!r}")
    return {
        "timer_id": timer_id,
        "clock": clock,
        "seq": int(seq),
        "kind": kind,
        "due_at": due,
        "deadline": deadline,
        "policy_version": policy,
        "retroactive": retro == "1",
        "subject": subject or None,
    }


def _aware(text: Any) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return at
