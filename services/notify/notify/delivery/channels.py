"""The configured channels of a deployment, grouped by kind, each behind its own circuit breaker.

For a notification of kind K the candidates are the channels of kind K in configuration order (the first is the
primary, the next its failover); a kind with no channel of its own goes to the embedded outbox channel(s), so with
the `make run` default (the outbox only) every notification is recorded there."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from notify.channels.base import Channel
from notify.delivery.breaker import Breaker, BreakerState

OUTBOX = "outbox"


@dataclass
class ChannelSet:
    channels: Sequence[Channel]
    threshold: int = 5
    cooldown: float = 30.0
    failover: bool = True
    monotonic: Callable[[], float] = time.monotonic
    breakers: dict[str, Breaker] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique: {names}")
        self.breakers = {c.name: Breaker(self.threshold, self.cooldown) for c in self.channels}

    def named(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)

    def candidates(self, kind: str) -> list[Channel]:
        own = [c for c in self.channels if c.kind == kind] or [c for c in self.channels if c.kind == OUTBOX]
        return own if self.failover else own[:1]

    def allowed(self, kind: str) -> list[Channel]:
        """The candidates whose breaker lets a send through now, in order (asking takes a half-open trial)."""
        now = self.monotonic()
        return [c for c in self.candidates(kind) if self.breakers[c.name].allow(now)]

    def succeeded(self, channel: Channel) -> None:
        self.breakers[channel.name].success(self.monotonic())

    def failed(self, channel: Channel) -> None:
        self.breakers[channel.name].failure(self.monotonic())

    def states(self) -> dict[str, BreakerState]:
        return {name: b.state for name, b in self.breakers.items()}

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
