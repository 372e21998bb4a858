"""Retries of transient failures: waits grow exponentially with full jitter up to a ceiling, stop at the window or
at shutdown, and count on over a redelivery; time and randomness are injected."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huying.backoff import SLICE, Attempts, Backoff, Retry, pause, retrying

pytestmark = pytest.mark.unit


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now, self.slept = 0.0, []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def retry_with(time: FakeTime, *, window: float = 1e9, rand=lambda: 1.0, backoff=Backoff(0.2, 30.0)) -> Retry:
    return Retry(backoff, window, sleep=time.sleep, clock=time.clock, rand=rand)


class Flaky:
    """Fails with `error` the first `times` calls, then answers."""

    def __init__(self, times: int, error: BaseException = ConnectionError("database away")) -> None:
        self.times, self.error, self.calls = times, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return "done"


def is_connection_error(error: BaseException) -> bool:
    return isinstance(error, ConnectionError)


def test_the_ceiling_doubles_from_the_first_wait_up_to_the_longest() -> None:
    backoff = Backoff(0.2, 30.0)
    assert [backoff.ceiling(n) for n in range(1, 10)] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0]
    assert backoff.ceiling(10_000) == 30.0  # no overflow however long the outage


def test_full_jitter_spreads_each_wait_over_zero_to_its_ceiling() -> None:
    backoff = Backoff(0.5, 4.0)
    assert backoff.wait(3, rand=lambda: 0.0) == 0.0
    assert backoff.wait(3, rand=lambda: 0.5) == 1.0
    assert backoff.wait(3, rand=lambda: 0.999) == pytest.approx(1.998)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        Backoff(0.2, 30.0).ceiling(0)


@given(
    initial=st.floats(0.001, 10.0),
    most=st.floats(0.001, 60.0),
    attempt=st.integers(1, 2000),
    rand=st.floats(0.0, 1.0, exclude_max=True),
)
def test_a_wait_never_exceeds_its_ceiling_nor_the_longest_and_ceilings_never_shrink(
    initial: float, most: float, attempt: int, rand: float
) -> None:
    backoff = Backoff(initial, most)
    wait = backoff.wait(attempt, rand=lambda: rand)
    assert 0.0 <= wait <= backoff.ceiling(attempt) <= most
    assert backoff.ceiling(attempt) <= backoff.ceiling(attempt + 1)
    if attempt > 1 and backoff.ceiling(attempt) < most:
        assert backoff.ceiling(attempt) == pytest.approx(2 * backoff.ceiling(attempt - 1))


async def test_a_transient_failure_is_retried_after_growing_waits_until_it_succeeds() -> None:
    time, call, told = FakeTime(), Flaky(4), []
    result = await retrying(
        call, retry=retry_with(time), transient=is_connection_error, on_retry=lambda *a: told.append(a[:2])
    )
    assert (result, call.calls) == ("done", 5)
    assert told == [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.6)]  # one line per retry, with its number and wait
    assert time.now == pytest.approx(3.0)


async def test_a_failure_that_is_not_transient_is_raised_at_once() -> None:
    time, call = FakeTime(), Flaky(1, ValueError("bad record"))
    with pytest.raises(ValueError, match="bad record"):
        await retrying(call, retry=retry_with(time), transient=is_connection_error, on_retry=lambda *a: None)
    assert (call.calls, time.slept) == (1, [])


async def test_the_failure_is_raised_when_the_next_wait_would_end_past_the_window() -> None:
    time, call = FakeTime(), Flaky(100)
    with pytest.raises(ConnectionError):
        await retrying(call, retry=retry_with(time, window=5.0), transient=is_connection_error, on_retry=lambda *a: 0)
    # waits 0.2 + 0.4 + 0.8 + 1.6 = 3.0; the next (3.2) would end at 6.2 > 5
    assert (call.calls, time.now) == (5, pytest.approx(3.0))


async def test_a_wait_ends_early_when_the_service_stops_and_the_failure_is_raised() -> None:
    time, call = FakeTime(), Flaky(100)
    stop_at = 10.0
    with pytest.raises(ConnectionError):
        await retrying(
            call,
            retry=retry_with(time, backoff=Backoff(30.0, 30.0)),
            transient=is_connection_error,
            on_retry=lambda *a: None,
            stopping=lambda: time.now >= stop_at,
        )
    assert call.calls == 1 and time.now == pytest.approx(stop_at)
    assert max(time.slept) <= SLICE  # waited in slices, so a stop is noticed within one


async def test_a_pause_waits_the_whole_time_unless_stopped() -> None:
    time = FakeTime()
    assert await pause(1.0, stopping=lambda: False, retry=retry_with(time))
    assert time.now == pytest.approx(1.0)
    assert not await pause(1.0, stopping=lambda: True, retry=retry_with(time))
    assert time.now == pytest.approx(1.0)


async def test_the_count_goes_on_over_a_redelivery_so_waits_keep_growing() -> None:
    time, attempts = FakeTime(), Attempts()
    with pytest.raises(ConnectionError):
        await retrying(
            Flaky(100), retry=retry_with(time, window=1.0), transient=is_connection_error,
            on_retry=lambda *a: None, attempts=attempts,
        )  # fmt: skip
    assert attempts.made == 2  # 0.2 + 0.4; the next (0.8) would pass the window
    told: list[int] = []
    before = time.now
    await retrying(
        Flaky(1), retry=retry_with(time), transient=is_connection_error,
        on_retry=lambda n, *a: told.append(n), attempts=attempts,
    )  # fmt: skip
    assert told == [3] and time.now - before == pytest.approx(0.8)


@given(st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=60))
async def test_whatever_the_jitter_each_wait_is_within_its_ceiling_and_all_within_the_window(
    rands: list[float],
) -> None:
    time, call, told = FakeTime(), Flaky(500), []
    draws = itertools.cycle(rands)
    backoff = Backoff(0.2, 30.0)
    with contextlib.suppress(ConnectionError):  # the window may end first
        await retrying(
            call, retry=retry_with(time, window=120.0, rand=lambda: next(draws), backoff=backoff),
            transient=is_connection_error, on_retry=lambda n, wait, _: told.append((n, wait)),
        )  # fmt: skip
    assert [n for n, _ in told] == list(range(1, len(told) + 1)) and call.calls == len(told) + 1
    assert all(0 <= wait <= backoff.ceiling(n) for n, wait in told)
    assert time.now == pytest.approx(sum(wait for _, wait in told)) and time.now <= 120.0
