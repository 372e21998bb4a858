"""The topic registry: every topic, its key, its messages, its dead-letter topic, and how the cluster keeps it.

Each topic declares its partitions, its cleanup policy and its retention — chosen by what the topic is for — and
`python -m huying.topics apply` (huying.topic_admin) creates or reconciles them; the broker does not auto-create
topics. Retention by purpose:

- inputs (`intake`, `alarms`): a delivery channel — intake records every arrival in its database at once, so the
  topic only has to outlast an outage and a long weekend;
- master data (`crm`): compacted, kept forever — the latest record of every customer and every service line stays
  readable, so any service can rebuild its CRM replica from the beginning;
- history (`tickets`, `sla`, `notifications`): kept as long as dispatch keeps a closed ticket (800 days), so every
  read model (sla-watch's ledgers, reporting's facts, notify's log) can be rebuilt from the log;
- dead letters (`<topic>.dlq`): kept 30 days for an operator to look at and replay (`python -m huying.replay`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import TypeAdapter

from huying.events import ADAPTERS

DAY_MS = 86_400_000
FOREVER = -1
HISTORY_DAYS = 800  # dispatch's `retention_days`: a closed ticket's whole reporting life
DLQ_DAYS = 30


@dataclass(frozen=True)
class Topic:
    """A Kafka topic of the contract; `name` includes the deployment's prefix (empty in production)."""

    family: str
    base: str
    key: str
    prefix: str = ""
    partitions: int = 12
    cleanup: Literal["delete", "compact"] = "delete"
    retention_days: float = HISTORY_DAYS  # FOREVER for never
    purpose: str = ""

    @property
    def name(self) -> str:
        return f"{self.prefix}{self.base}"

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    @property
    def adapter(self) -> TypeAdapter:
        return ADAPTERS[self.family]

    @property
    def retention_ms(self) -> int:
        return FOREVER if self.retention_days == FOREVER else int(self.retention_days * DAY_MS)


_REGISTRY = (
    Topic(
        "intake",
        "huying.intake.v1",
        "source_system:external_id",
        retention_days=7,
        purpose="reports from source systems; intake records each on arrival",
    ),
    Topic(
        "alarms",
        "huying.alarms.v1",
        "service line id (or resource)",
        retention_days=3,
        purpose="NMS alarms (storm volume); intake records each on arrival",
    ),
    Topic(
        "crm",
        "huying.crm.v1",
        "customer:<customer id> or line:<service line id>",
        cleanup="compact",
        retention_days=FOREVER,
        purpose="CRM master data: the latest record of every customer and line, forever",
    ),
    Topic("tickets", "huying.tickets.v1", "ticket id", purpose="ticket history: every read model rebuilds from it"),
    Topic(
        "sla",
        "huying.sla.v1",
        "ticket id (quality budgets: service line id)",
        purpose="SLA warnings, breaches, escalations",
    ),
    Topic(
        "notifications",
        "huying.notifications.v1",
        "ticket id (or dedup key)",
        purpose="notification outcomes, for reporting",
    ),
)


@dataclass(frozen=True)
class Topics:
    """All topics under one prefix; tests use a unique prefix so they never collide."""

    prefix: str = ""

    def __getattr__(self, family: str) -> Topic:
        for topic in _REGISTRY:
            if topic.family == family:
                return Topic(**{**topic.__dict__, "prefix": self.prefix})
        raise AttributeError(family)

    def all(self) -> list[Topic]:
        return [getattr(self, t.family) for t in _REGISTRY]


if __name__ == "__main__":
    import sys

    from huying.topic_admin import main

    sys.exit(main())
