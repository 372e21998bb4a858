"""The topic registry: every topic, its key, its messages, and its dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import TypeAdapter

from huying.events import ADAPTERS


@dataclass(frozen=True)
class Topic:
    """A Kafka topic of the contract; `name` includes the deployment's prefix (empty in production)."""

    family: str
    base: str
    key: str
    prefix: str = ""

    @property
    def name(self) -> str:
        return f"{self.prefix}{self.base}"

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    @property
    def adapter(self) -> TypeAdapter:
        return ADAPTERS[self.family]


_REGISTRY = (
    Topic("intake", "huying.intake.v1", "source_system:external_id"),
    Topic("alarms", "huying.alarms.v1", "service line id (or resource)"),
    Topic("crm", "huying.crm.v1", "customer id"),
    Topic("tickets", "huying.tickets.v1", "ticket id"),
    Topic("sla", "huying.sla.v1", "ticket id (quality budgets: service line id)"),
    Topic("notifications", "huying.notifications.v1", "ticket id (or dedup key)"),
)


@dataclass(frozen=True)
class Topics:
    """All topics under one prefix; tests use a unique prefix so they never collide."""

    prefix: str = ""

    def __getattr__(self, family: str) -> Topic:
        for topic in _REGISTRY:
            if topic.family == family:
                return Topic(topic.family, topic.base, topic.key, self.prefix)
        raise AttributeError(family)

    def all(self) -> list[Topic]:
        return [getattr(self, t.family) for t in _REGISTRY]
