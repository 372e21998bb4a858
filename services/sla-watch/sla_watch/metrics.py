"""sla-watch's own Prometheus metrics (on the service's registry, shown by `/metrics`): the failure paths that
would otherwise only be log lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class SlaWatchMetrics:
    load_failures: Counter
    unreadable_timers: Counter
    outbox_failures: Counter

    def load_failed(self) -> None:
        self.load_failures.inc()

    def unreadable(self) -> None:
        self.unreadable_timers.inc()

    def outbox_failed(self, reason: str) -> None:
        self.outbox_failures.labels(reason=reason).inc()


def sla_watch_metrics(registry: CollectorRegistry, *, loading: Callable[[], int]) -> SlaWatchMetrics:
    """The metrics, registered on `registry`; `loading` counts owned partitions not loaded yet (read at scrape)."""
    Gauge(
        "huying_sla_watch_partitions_loading",
        "Owned ticket partitions whose stored timers are not loaded yet (none of their stored timers can fire).",
        registry=registry,
    ).set_function(loading)
    outbox = Counter(
        "huying_sla_watch_outbox_publish_failures",
        "Ledger outbox entries a pass could not publish: reason transient (Kafka away: kept pending, the pass stops "
        "there) or refused (refused for good: quarantined, huying_outbox_quarantined_total).",
        ["reason"],
        registry=registry,
    )
    for reason in ("transient", "refused"):
        outbox.labels(reason=reason)
    return SlaWatchMetrics(
        load_failures=Counter(
            "huying_sla_watch_partition_load_failures",
            "Failed attempts to load assigned partitions' stored timers (each retried with backoff).",
            registry=registry,
        ),
        unreadable_timers=Counter(
            "huying_sla_watch_unreadable_stored_timers",
            "Stored timers (or whole timers documents) skipped by a partition load because they could not be read.",
            registry=registry,
        ),
        outbox_failures=outbox,
    )
