"""Kafka plumbing: the broker factory, subscriber defaults, and how events become records."""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from huying.dlq import DEAD_LETTERS, DeadLetterMiddleware, DeadLetterOffice
from huying.events import Event
from huying.failures import FAILURES, FailureMetrics
from huying.logging import ids_of_record, log_context
from huying.settings import ServiceSettings


class LogContextMiddleware(BaseMiddleware):
    """Every log line written while handling a record carries its ticket and correlation ids."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        raw = msg.raw_message
        headers = {str(k): str(v) for k, v in (msg.headers or {}).items()}
        with log_context(**ids_of_record(getattr(raw, "topic", ""), getattr(raw, "key", None), headers)):
            return await call_next(msg)


def make_broker(settings: ServiceSettings, registry: CollectorRegistry | None = None, **kwargs: Any) -> KafkaBroker:
    """A broker with an idempotent producer (acks=all), consumer metrics, retries of transient failures with
    backoff and dead-lettering of poison messages (their counters on the same registry)."""
    registry = registry or CollectorRegistry()
    metrics = KafkaPrometheusMiddleware(registry=registry, app_name=settings.service_name, metrics_prefix="huying")
    failures = FailureMetrics(registry, settings.service_name)
    office = DeadLetterOffice.of(settings, failures)
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"huying-{settings.service_name}",
        enable_idempotence=True,
        acks="all",
        middlewares=(metrics, LogContextMiddleware, DeadLetterMiddleware.for_office(office)),
        graceful_timeout=10.0,
        # FastStream's per-message "Received"/"Processed" lines go through our JSON logging, at debug level.
        logger=logging.getLogger("huying.kafka"),
        log_level=logging.DEBUG,
        **kwargs,
    )
    broker.context.set_global(FAILURES, failures)
    broker.context.set_global(DEAD_LETTERS, office)
    return broker


def subscriber_options(settings: ServiceSettings, **overrides: Any) -> dict[str, Any]:
    """Consumer-group membership and at-least-once delivery: the offset is committed after the handler returns.
    A transient failure is retried in place with backoff (huying.dlq), a poison message dead-lettered; only a
    failure that outlasts the retry window (or shutdown) reaches the ack policy, which redelivers the record."""
    options: dict[str, Any] = {
        "group_id": settings.group_id,
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": "earliest",
    }
    options.update(overrides)
    return options


def event_headers(event: Event) -> dict[str, str]:
    """Envelope fields as Kafka headers, so tools can route and trace without parsing the body."""
    headers = {"event_id": str(event.event_id), "type": event.type, "schema_version": str(event.schema_version)}
    if event.correlation_id:
        headers["correlation_id"] = event.correlation_id
    return headers


def serialize(event: Event) -> bytes:
    return event.model_dump_json().encode()


async def publish_event(broker: KafkaBroker, topic: str, event: Event) -> None:
    """Publish one event keyed by its partition key, and wait for the broker's acknowledgement."""
    await broker.publish(
        serialize(event),
        topic=topic,
        key=event.partition_key(),
        headers=event_headers(event),
        correlation_id=event.correlation_id or str(event.event_id),
    )
