"""The one point where storm and rate rules decide a notification's fate just before it is sent.

`Gate(doc, now)` returns send, defer (until a time), suppress (with a reason) or digest (held for the recipient's
digest at `until`) — directly, or as an awaitable, so a gate may read what it needs (the ticket snapshot, what a
recipient was sent today) from the database. The storm rules (`notify.delivery.storm_gate`, over
`notify.domain.storm`) are the default (`HUYING_NOTIFY_STORM_RULES`); `always_send` sends everything;
`notify.app.create(gate=...)` / `make_setup(gate=...)` hand another to the worker.
A deferred notification goes back to `pending` at `until` with no attempt counted; a suppressed one ends
`suppressed` without an event; a digested one ends `digest`, an entry of the one digest notification its recipient
and channel get at `until`. `record` are fields a send writes on the document with its outcome (the storm gate's
incident key)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal


@dataclass(frozen=True)
class Verdict:
    action: Literal["send", "defer", "suppress", "digest"]
    until: datetime | None = None  # defer: not before then; digest: when the digest goes
    reason: str = ""
    record: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # send: written with the outcome


SEND = Verdict("send")
Gate = Callable[[Mapping[str, Any], datetime], Verdict | Awaitable[Verdict]]


def always_send(notification: Mapping[str, Any], now: datetime) -> Verdict:
    return SEND
