"""The counters of the failure paths, on the service's own registry (`/metrics`): retries of transient failures,
dead letters by how much of the record they could keep, outbox events quarantined. `make_broker` builds them and
keeps them in the broker's context, so anything holding the broker (an outbox relay, a handler) counts on them."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter

FAILURES = "huying_failures"  # key in the broker's context


class FailureMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.retries = Counter(
            "huying_consumer_retries",
            "Handler runs (or dead-letter publishes) retried after a transient failure, by consumed topic.",
            ["service", "topic"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "huying_dead_letters",
            "Records dead-lettered, by consumed topic and letter: whole, truncated (value or headers cut, with size "
            "and SHA-256), minimal (no payload: the full letter was refused) or unsent (even that was refused).",
            ["service", "topic", "letter"],
            registry=registry,
        )
        self.quarantined = Counter(
            "huying_outbox_quarantined",
            "Outbox events Kafka refused for good, kept in outbox_quarantine for replay, by outbox collection.",
            ["service", "collection"],
            registry=registry,
        )

    def retried(self, topic: str) -> None:
        self.retries.labels(self.service, topic).inc()

    def dead_lettered(self, topic: str, letter: str) -> None:
        self.dead_letters.labels(self.service, topic, letter).inc()

    def quarantine(self, collection: str, count: int) -> None:
        self.quarantined.labels(self.service, collection).inc(count)


def failure_metrics(broker: Any) -> FailureMetrics:
    """The counters `make_broker` gave this broker; a broker built otherwise (a test's) gets unregistered ones."""
    metrics = broker.context.get(FAILURES) if broker is not None else None
    if metrics is None:
        metrics = FailureMetrics(CollectorRegistry(), "huying")
        if broker is not None:
            broker.context.set_global(FAILURES, metrics)
    return metrics
