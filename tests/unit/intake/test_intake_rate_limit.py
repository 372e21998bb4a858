"""The intake rate limit holds its average for any batch size (issue 11: a batch larger than the burst used to pass
with the bucket still full), and a refused request always learns a positive wait after which it passes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.api import TokenBucket

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


steps = st.lists(st.tuples(st.floats(0, 5, allow_nan=False), st.integers(1, 1200)), min_size=1, max_size=200)


@given(rate=st.floats(0.5, 500, allow_nan=False), burst=st.integers(1, 800), requests=steps)
def test_over_any_run_no_more_than_burst_plus_rate_times_time_plus_one_oversized_batch_passes(
    rate: float, burst: int, requests: list[tuple[float, int]]
) -> None:
    clock = Clock()
    bucket = TokenBucket(rate, burst, now=clock)
    passed, largest = 0, 0
    for pause, n in requests:
        clock.t += pause
        wait = bucket.take(n)
        if wait == 0.0:
            passed += n
            largest = max(largest, n)
        else:
            assert wait > 0
    assert passed <= burst + rate * clock.t + max(0, largest - burst) + 1e-6


@given(rate=st.floats(0.5, 500, allow_nan=False), burst=st.integers(1, 800), n=st.integers(1, 1200))
def test_a_refused_request_passes_once_it_has_waited_what_it_was_told(rate: float, burst: int, n: int) -> None:
    clock = Clock()
    bucket = TokenBucket(rate, burst, now=clock)
    bucket.take(burst)  # empty
    wait = bucket.take(n)
    assert wait > 0
    clock.t += wait * (1 + 1e-9) + 1e-9
    assert bucket.take(n) == 0.0


def test_a_thousand_back_to_back_batches_of_500_are_not_all_let_through() -> None:
    # The reproduction (defaults: max_batch 500 > burst 400): 1,000 batches at once, no time passing.
    clock = Clock()
    bucket = TokenBucket(100, 400, now=clock)
    passed = [bucket.take(500) == 0.0 for _ in range(1000)]
    assert sum(passed) == 1
