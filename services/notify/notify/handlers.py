"""notify's Kafka subscribers, one router per topic, attached explicitly in app.py."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from huying.crm_replica import crm_router
from huying.settings import ServiceSettings
from huying.topics import Topics


def routers(settings: ServiceSettings, topics: Topics) -> list[KafkaRouter]:
    return [crm_router(settings, topics)]
