"""Small real-Kafka helpers for tests (aiokafka against the test broker; never a mock)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from huying.events import Event
from huying.kafka import event_headers, serialize
from huying.topic_admin import PROFILES, apply
from huying.topics import Topics


async def declare_topics(bootstrap: str, prefix: str) -> None:
    """Every topic of the registry under this prefix, as `python -m huying.topics apply` makes them: the broker
    creates no topic by itself."""
    await apply(bootstrap, Topics(prefix), PROFILES["local"])


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete every topic under this prefix (best effort: the broker may be away after a test that stopped it)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    except Exception as error:  # cleanup must not fail a test that passed
        logging.getLogger("tests.kafka").warning("topics under %s not deleted: %s", prefix, error)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def produce(bootstrap: str, topic: str, *messages: Event | bytes, key: bytes | None = None) -> None:
    """Publish events (with their keys and headers) or raw bytes, and wait until the broker has them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for message in messages:
            if isinstance(message, Event):
                headers = [(k, v.encode()) for k, v in event_headers(message).items()]
                await producer.send_and_wait(topic, serialize(message), key=message.partition_key(), headers=headers)
            else:
                await producer.send_and_wait(topic, message, key=key)
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, *, count: int, timeout: float = 30.0) -> list[Any]:
    """Read `count` records from the start of a topic (fails if fewer arrive in time)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    assert len(records) >= count, f"expected {count} records on {topic}, got {len(records)} in {timeout}s"
    return records


async def wait_until(check: Callable[[], Awaitable[Any]], *, timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll an async check until it returns something truthy; fail with the last value after the timeout."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
