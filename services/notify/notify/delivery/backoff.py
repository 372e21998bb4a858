"""When a notification whose send came back `retry` is tried again: exponential backoff with jitter.

Attempt n (from 1) waits between `(1 - jitter) · c` and `c`, where `c = min(most, initial · 2^(n-1))`: the ceiling
doubles until it reaches `most`, and a share `jitter` of it is random, so notifications that failed together (a
gateway down for everyone) do not all come back in the same instant. Randomness is injected."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetrySchedule:
    initial: float  # seconds before the second attempt (at most)
    most: float  # the longest wait
    jitter: float = 0.5  # the random share of each wait, 0 (none) up to but not 1: full jitter could retry at once

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.most):
            raise ValueError("need 0 < initial <= most")
        if not (0 <= self.jitter < 1):
            raise ValueError("jitter is a share from 0 up to (not including) 1: a wait must never be 0")

    def ceiling(self, attempt: int) -> float:
        if attempt < 1:
            raise ValueError(f"attempts count from 1, not {attempt}")
        return min(self.most, self.initial * 2.0 ** min(attempt - 1, 63))

    def wait(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt `attempt`; `rand()` is uniform in [0, 1)."""
        ceiling = self.ceiling(attempt)
        return ceiling * (1 - self.jitter) + ceiling * self.jitter * rand()

    def after(self, attempt: int, *, retry_after: float | None, rand: Callable[[], float] = random.random) -> float:
        """The wait, never shorter than what the gateway asked for (429/flow control), never longer than `most`
        unless the gateway asked for more."""
        wait = self.wait(attempt, rand)
        return max(wait, retry_after) if retry_after is not None else wait
