"""A circuit breaker per channel: after `threshold` consecutive failures (sends that came back `retry` or `unknown`)
the channel is not used for `cooldown` seconds; then one trial send is let through (half-open) — its success closes
the breaker, its failure opens it again. Pure: the caller passes the time (monotonic seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Breaker:
    threshold: int
    cooldown: float
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0  # consecutive, while closed
    opened_at: float = 0.0
    trial_out: bool = False  # half-open: the one trial send is under way
    transitions: list[tuple[float, BreakerState]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.cooldown <= 0:
            raise ValueError("threshold >= 1 and cooldown > 0")

    def _move(self, to: BreakerState, now: float) -> None:
        self.state = to
        self.transitions.append((now, to))

    def allow(self, now: float) -> bool:
        """May a send go to this channel now? (Half-open lets exactly one trial through at a time.)"""
        if self.state is BreakerState.OPEN and now - self.opened_at >= self.cooldown:
            self._move(BreakerState.HALF_OPEN, now)
            self.trial_out = False
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN and not self.trial_out:
            self.trial_out = True
            return True
        return False

    def success(self, now: float) -> None:
        self.failures = 0
        self.trial_out = False
        if self.state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED, now)

    def failure(self, now: float) -> None:
        self.trial_out = False
        if self.state is BreakerState.HALF_OPEN:
            self._open(now)
            return
        if self.state is BreakerState.CLOSED:
            self.failures += 1
            if self.failures >= self.threshold:
                self._open(now)

    def _open(self, now: float) -> None:
        self.failures = 0
        self.opened_at = now
        self._move(BreakerState.OPEN, now)
