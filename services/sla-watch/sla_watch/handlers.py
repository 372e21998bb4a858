"""sla-watch's Kafka subscribers, one router per topic, attached explicitly in app.py.

Idempotency: ticket events by event id in the ticket's ledger (watch.py); CRM records by the shared replica's
`apply_once`.
"""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import Context
from faststream.kafka import KafkaMessage, KafkaRouter

from huying.crm_replica import crm_router as replica_router
from huying.events import TicketMessage
from huying.kafka import subscriber_options
from huying.rebuild import bind
from huying.topics import Topics
from sla_watch.replaying import TicketReplica, tickets_model
from sla_watch.settings import SlaWatchSettings

WATCH = "sla_watch"  # the Watch in the broker's context, set by app.setup


class Ownership(ConsumerRebalanceListener):
    """Loads the timers of assigned ticket partitions and stops firing while a rebalance is in progress."""

    def __init__(self, router: KafkaRouter, topic: str) -> None:
        self.router, self.topic = router, topic

    def _watch(self) -> Any:
        return self.router.config.fd_config.context.get(WATCH)

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._watch().revoked()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._watch().assigned({tp.partition for tp in assigned if tp.topic == self.topic})


def tickets_router(settings: SlaWatchSettings, topics: Topics) -> KafkaRouter:
    """The ticket state's read model: its group is `<group>.<epoch>` once `start_read_models` opened the epoch."""
    router = KafkaRouter()
    options = subscriber_options(
        settings, session_timeout_ms=settings.session_timeout_ms, heartbeat_interval_ms=settings.heartbeat_interval_ms
    )
    subscriber = router.subscriber(
        topics.tickets.name, **options, listener=Ownership(router, topics.tickets.name), title="sla-watch:tickets"
    )
    bind(subscriber, TicketReplica(tickets_model(settings, topics)))

    @subscriber
    async def on_ticket(event: TicketMessage, message: KafkaMessage, watch: Any = Context(WATCH)) -> None:
        record = message.raw_message
        await watch.on_ticket_event(event, partition=record.partition, offset=record.offset)

    return router


def crm_router(settings: SlaWatchSettings, topics: Topics) -> KafkaRouter:
    """The shared CRM replica, in a group of its own: a CRM consumer joining or leaving must not rebalance the
    ticket partitions (each rebalance pauses firing)."""
    return replica_router(settings, topics, group_id=f"{settings.group_id}.crm", title="sla-watch:crm")


def routers(settings: SlaWatchSettings, topics: Topics) -> list[KafkaRouter]:
    return [tickets_router(settings, topics), crm_router(settings, topics)]
