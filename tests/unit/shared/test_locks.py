"""KeyedLocks serialise work on one key, leave other keys concurrent, and forget idle keys."""

from __future__ import annotations

import asyncio

import pytest

from huying.locks import KeyedLocks

pytestmark = pytest.mark.unit


async def test_work_on_one_key_never_interleaves() -> None:
    locks, trace = KeyedLocks(), []

    async def work(n: int) -> None:
        async with locks.hold("T-1"):
            trace.append(("in", n))
            await asyncio.sleep(0.001)
            trace.append(("out", n))

    await asyncio.gather(*(work(n) for n in range(5)))
    assert all(trace[i][0] == "in" and trace[i + 1] == ("out", trace[i][1]) for i in range(0, 10, 2))
    assert len(locks) == 0


async def test_different_keys_run_concurrently() -> None:
    locks, both_inside = KeyedLocks(), asyncio.Event()
    inside = set()

    async def work(key: str) -> None:
        async with locks.hold(key):
            inside.add(key)
            if len(inside) == 2:
                both_inside.set()
            await asyncio.wait_for(both_inside.wait(), 1)

    await asyncio.gather(work("T-1"), work("T-2"))
    assert inside == {"T-1", "T-2"}
