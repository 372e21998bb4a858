"""Retrying a transient failure: exponential backoff with full jitter, waits that end early at shutdown, and a
window after which the caller hands the work back (a consumer must poll again before max.poll.interval.ms).

The schedule is pure (randomness injected); `retrying` takes its sleep and clock as arguments, so every path is
unit-tested without waiting."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

SLICE = 0.25  # how often a wait looks whether the service is stopping (shutdown stays prompt, no log per slice)


@dataclass(frozen=True)
class Backoff:
    """Retry n (from 1) waits a uniform time in [0, min(most, initial · 2^(n-1))): "full jitter", so replicas that
    failed together do not retry together, and the mean wait still doubles."""

    initial: float
    most: float

    def ceiling(self, attempt: int) -> float:
        if attempt < 1:
            raise ValueError(f"attempts count from 1, not {attempt}")
        return min(self.most, self.initial * 2.0 ** min(attempt - 1, 63))

    def wait(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        return self.ceiling(attempt) * rand()

    @classmethod
    def of(cls, settings: Any) -> Backoff:
        return cls(settings.retry_initial_seconds, settings.retry_max_seconds)


@dataclass(frozen=True)
class Retry:
    """How `retrying` waits: the schedule, how long one call of it may go on (`window`), and its clock."""

    backoff: Backoff
    window: float
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    rand: Callable[[], float] = field(default=random.random)


async def pause(seconds: float, *, stopping: Callable[[], bool], retry: Retry) -> bool:
    """Wait `seconds` in slices, ending early once `stopping()`; True if the whole wait passed."""
    deadline = retry.clock() + seconds
    while (left := deadline - retry.clock()) > 0:
        if stopping():
            return False
        await retry.sleep(min(SLICE, left))
    return not stopping()


@dataclass
class Attempts:
    """Retries made so far for one piece of work; kept by a caller that wants the count (and the growing waits)
    to go on over a redelivery of the same record."""

    made: int = 0


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    retry: Retry,
    transient: Callable[[BaseException], bool],
    on_retry: Callable[[int, float, BaseException], None],
    stopping: Callable[[], bool] = lambda: False,
    attempts: Attempts | None = None,
) -> T:
    """Call until it returns or fails for good. A transient failure is retried after `backoff.wait(n)` for retry n
    (`on_retry(n, wait, error)` is told first); it is raised instead when that wait would end past the window, or
    once the service is stopping. Any other failure is raised at once."""
    attempts = Attempts() if attempts is None else attempts
    started = retry.clock()
    while True:
        try:
            return await call()
        except Exception as error:
            if not transient(error):
                raise
            wait = retry.backoff.wait(attempts.made + 1, retry.rand)
            if stopping() or retry.clock() - started + wait > retry.window:
                raise
            attempts.made += 1
            on_retry(attempts.made, wait, error)
            if not await pause(wait, stopping=stopping, retry=retry):
                raise
