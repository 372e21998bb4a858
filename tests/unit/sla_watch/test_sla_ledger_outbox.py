"""The ledgers' outbox: every pass publishes every pending entry in the order appended; an entry Kafka refuses for
good is quarantined (never deleted unpublished) while the others go out; Kafka away stops the pass with the rest
kept in order for the sweep; an id the timer path published already is removed, not sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from prometheus_client import CollectorRegistry

from sla_watch.ledger_outbox import LedgerOutbox, TicketLocks
from sla_watch.metrics import sla_watch_metrics

pytestmark = pytest.mark.unit


class MemoryOutboxes:
    """`store.LedgerOutboxes` in memory: ledger id → (partition, entries, flagged pending)."""

    def __init__(self) -> None:
        self.ledgers: dict[str, dict[str, Any]] = {}
        self.quarantined: list[tuple[str, str]] = []

    def add(self, ticket_id: str, *entries: dict[str, Any], partition: int = 0, pending: bool = True) -> None:
        ledger = self.ledgers.setdefault(ticket_id, {"partition": partition, "outbox": [], "pending": pending})
        ledger["outbox"].extend(entries)
        ledger["pending"] = pending

    async def entries(self, ticket_id: str) -> list[dict[str, Any]]:
        return list(self.ledgers[ticket_id]["outbox"])

    async def pending(self, partitions: Iterable[int]) -> list[str]:
        wanted = set(partitions)
        return [t for t, ledger in self.ledgers.items() if ledger["pending"] and ledger["partition"] in wanted]

    async def clear(self, ticket_id: str, *, read: list[dict[str, Any]], gone: list[dict[str, Any]]) -> None:
        ledger = self.ledgers[ticket_id]
        ids = {e["event_id"] for e in gone}
        ledger["outbox"] = [e for e in ledger["outbox"] if e["event_id"] not in ids]
        ledger["pending"] = bool(ledger["outbox"])

    async def quarantine(self, refused: list[tuple[dict[str, Any], BaseException]]) -> None:
        self.quarantined += [(e["event_id"], type(error).__name__) for e, error in refused]


class Kafka:
    """Takes entries in order; refuses those named in `refuse` for good; is away for the next `away` sends."""

    def __init__(self, refuse: Iterable[str] = (), away: int = 0) -> None:
        self.sent: list[str] = []
        self.refuse, self.away = set(refuse), away

    async def __call__(self, entry: dict[str, Any]) -> None:
        if self.away:
            self.away -= 1
            raise KafkaConnectionError("broker away")
        if entry["event_id"] in self.refuse:
            raise MessageSizeTooLargeError("record too large")
        self.sent.append(entry["event_id"])


def entry(event_id: str, type_: str = "SlaDeadlineMoved") -> dict[str, Any]:
    return {"event_id": event_id, "topic": "huying.sla.v1", "key": "T-1", "value": b"{}", "headers": {"type": type_}}


def outbox(kafka: Kafka, store: MemoryOutboxes, sent_elsewhere=None) -> tuple[LedgerOutbox, CollectorRegistry]:
    async def nothing_elsewhere(ticket_id, entries) -> set[str]:
        return set()

    registry = CollectorRegistry()
    return LedgerOutbox(
        store,
        kafka,
        sla_watch_metrics(registry, loading=lambda: 0),
        locks=TicketLocks(),
        sent_elsewhere=sent_elsewhere or nothing_elsewhere,
        sweep_seconds=60,
    ), registry


def failures(registry: CollectorRegistry, reason: str) -> float:
    return registry.get_sample_value("huying_sla_watch_outbox_publish_failures_total", {"reason": reason}) or 0.0


async def test_a_refused_entry_is_quarantined_while_the_others_go_out_in_order() -> None:
    store, kafka = MemoryOutboxes(), Kafka(refuse={"b"})
    store.add("T-1", entry("a"), entry("b"), entry("c"))
    box, registry = outbox(kafka, store)
    assert await box.publish("T-1", await store.entries("T-1"), sent=set()) == 2
    assert kafka.sent == ["a", "c"]
    assert store.quarantined == [("b", "MessageSizeTooLargeError")]  # kept with its reason, not deleted
    assert store.ledgers["T-1"] == {"partition": 0, "outbox": [], "pending": False}
    assert failures(registry, "refused") == 1


async def test_kafka_away_stops_the_pass_and_keeps_the_rest_in_order_for_the_next() -> None:
    store, kafka = MemoryOutboxes(), Kafka(away=1)
    store.add("T-1", entry("a"), entry("b"))
    box, registry = outbox(kafka, store)
    with pytest.raises(KafkaConnectionError):
        await box.publish("T-1", await store.entries("T-1"), sent=set())
    assert kafka.sent == [] and [e["event_id"] for e in store.ledgers["T-1"]["outbox"]] == ["a", "b"]
    assert failures(registry, "transient") == 1
    assert await box.sweep([0]) == 2
    assert kafka.sent == ["a", "b"] and not store.ledgers["T-1"]["pending"]


async def test_every_pass_publishes_what_earlier_passes_left_before_the_new_entries() -> None:
    store, kafka = MemoryOutboxes(), Kafka()
    store.add("T-1", entry("left-1"), entry("left-2"), pending=False)  # left behind, flag lowered (the old bug)
    store.add("T-1", entry("new"), pending=True)
    box, _ = outbox(kafka, store)
    await box.publish("T-1", await store.entries("T-1"), sent=set())
    assert kafka.sent == ["left-1", "left-2", "new"] and store.ledgers["T-1"]["outbox"] == []


async def test_the_sweep_covers_only_the_given_partitions_and_skips_what_the_timers_sent() -> None:
    store, kafka = MemoryOutboxes(), Kafka()
    store.add("T-1", entry("moved"), entry("breach", "SlaBreached"), partition=0)
    store.add("T-2", entry("other"), partition=1)
    asked = []

    async def timers_sent(ticket_id, entries) -> set[str]:
        asked.append((ticket_id, [e["event_id"] for e in entries]))
        return {"breach"}  # its timer fired it already, under the same id

    box, _ = outbox(kafka, store, timers_sent)
    assert await box.sweep([0]) == 1
    assert kafka.sent == ["moved"] and asked == [("T-1", ["moved", "breach"])]
    assert store.ledgers["T-1"]["outbox"] == [] and store.ledgers["T-2"]["pending"]


async def test_a_sweep_waits_for_the_tickets_own_pass() -> None:
    store, kafka = MemoryOutboxes(), Kafka()
    store.add("T-1", entry("a"))
    box, _ = outbox(kafka, store)
    async with box.locks.hold("T-1"):  # the ticket event's pass holds the ledger
        sweep = asyncio.create_task(box.sweep([0]))
        await asyncio.sleep(0.01)
        assert kafka.sent == []
        await box.publish("T-1", await store.entries("T-1"), sent=set())
    assert await sweep == 0 and kafka.sent == ["a"]  # read again under the lock: nothing left to send twice
    assert len(box.locks) == 0
