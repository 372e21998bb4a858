"""The one point where storm and rate rules decide a notification's fate just before it is sent.

`Gate(doc, now)` returns send, defer (until a time) or suppress (with a reason) — directly, or as an awaitable, so a
gate may read what it needs (the ticket snapshot, what a recipient was sent today) from the database. The default
sends everything; the storm rules (quiet hours, caps, hold-down, one per customer per incident:
`notify.domain.storm`) plug in here: `notify.app.create(gate=...)` / `make_setup(gate=...)` hand it to the worker.
A deferred notification goes back to `pending` at `until` with no attempt counted; a suppressed one ends
`suppressed` without an event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True)
class Verdict:
    action: Literal["send", "defer", "suppress"]
    until: datetime | None = None  # defer: not before then
    reason: str = ""


SEND = Verdict("send")
Gate = Callable[[Mapping[str, Any], datetime], Verdict | Awaitable[Verdict]]


def always_send(notification: Mapping[str, Any], now: datetime) -> Verdict:
    return SEND
