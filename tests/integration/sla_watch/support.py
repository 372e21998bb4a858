"""Helpers for sla-watch's tests over real Kafka: tickets timed against the wall clock (fast policy: one policy
minute is one real second) and a tap that records every `huying.sla.v1` record with the moment it arrived."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from huying.events import TicketDispatched, TicketOpened
from sla_watch.policy_loader import POLICY_DIR

FAST_POLICY = POLICY_DIR / "sla-policy.fast.yaml"
PARTITIONS = 3


def now() -> datetime:
    return datetime.now(UTC)


def seconds(n: float, base: datetime) -> datetime:
    return base + timedelta(seconds=n)


def opened(ticket_id: str, base: datetime, *, reported: float = 0, tier: str = "gold", **kw: Any) -> TicketOpened:
    """A ticket opened at `base`, reported `reported` seconds (policy minutes) from it."""
    return TicketOpened(
        ticket_id=ticket_id,
        occurred_at=base,
        source_system="10086-cc",
        external_id=ticket_id,
        channel="hotline",
        tier=tier,
        scope="intra_city",
        category="access",
        reported_at=seconds(reported, base),
        producer="test",
        **kw,
    )


def dispatched(ticket_id: str, at: datetime, *teams: str) -> TicketDispatched:
    return TicketDispatched(ticket_id=ticket_id, occurred_at=at, teams=list(teams or ["gz-access-ops"]))


async def create_topics(bootstrap: str, *names: str) -> None:
    """Topics with the local broker's partition count, before any consumer joins (so all replicas see them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


@dataclass
class Seen:
    """One record of huying.sla.v1 as a downstream consumer saw it."""

    body: dict[str, Any]
    received: datetime

    @property
    def event_id(self) -> str:
        return self.body["event_id"]

    @property
    def type(self) -> str:
        return self.body["type"]

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromisoformat(self.body["occurred_at"])

    @property
    def lateness(self) -> float:
        """Seconds from the fact (the due time) to the moment downstream received it."""
        return (self.received - self.occurred_at).total_seconds()


@dataclass
class SlaTap:
    """A plain consumer of the whole topic from its start, recording every record and when it arrived."""

    bootstrap: str
    topic: str
    seen: list[Seen] = field(default_factory=list)
    _task: asyncio.Task | None = None

    async def __aenter__(self) -> SlaTap:
        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        self._task = asyncio.create_task(self._run(consumer))
        return self

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            async for record in consumer:
                self.seen.append(Seen(json.loads(record.value), now()))
        finally:
            await consumer.stop()

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def of(self, ticket_id: str, type_: str | None = None, clock: str | None = None, **fields: Any) -> list[Seen]:
        return [
            s
            for s in self.seen
            if s.body.get("ticket_id") == ticket_id
            and (type_ is None or s.type == type_)
            and (clock is None or s.body.get("clock") == clock)
            and all(s.body.get(k) == v for k, v in fields.items())
        ]

    def duplicates(self) -> dict[str, int]:
        return {k: n for k, n in Counter(s.event_id for s in self.seen).items() if n > 1}

    async def wait_for(self, ticket_id: str, type_: str, clock: str | None = None, *, timeout: float = 60, **f: Any):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(ticket_id, type_, clock, **f)
            if found:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {type_} {clock or ''} {f} for {ticket_id} within {timeout}s: {self.summary()}")

    def summary(self) -> list[tuple]:
        return [(s.body.get("ticket_id"), s.type, s.body.get("clock"), s.body.get("subject")) for s in self.seen]


def uid() -> str:
    return uuid.uuid4().hex[:8]


def describe(tap: SlaTap, ids: dict[str, int]) -> list[tuple]:
    return [
        (s.type, s.body.get("clock"), s.body.get("ticket_id"), s.received.isoformat())
        for s in tap.seen
        if s.event_id in ids
    ]
