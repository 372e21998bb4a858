"""A small in-process cache with expiry, for facts that are safe to reuse for a while (CRM lookups) or for
good (a committed correlation window never changes while it is valid)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")
MISSING = object()


class TtlCache(Generic[V]):
    def __init__(self, seconds: float, *, max_items: int = 50_000, now: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.max_items, self._now = seconds, max_items, now
        self._items: dict[str, tuple[float, V]] = {}

    def get(self, key: str) -> V | object:
        """The cached value, or MISSING."""
        item = self._items.get(key)
        if item is None or item[0] < self._now():
            return MISSING
        return item[1]

    def put(self, key: str, value: V, seconds: float | None = None) -> None:
        if self.seconds <= 0 and seconds is None:
            return
        if len(self._items) >= self.max_items:
            self._items.clear()  # crude but bounded: a miss only costs a database read
        self._items[key] = (self._now() + (self.seconds if seconds is None else seconds), value)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)
