"""notify's Kafka subscribers, one router per topic, attached explicitly in app.py. Each records the notifications
its event owes before it returns, so before the offset is committed (NACK_ON_ERROR: a failure redelivers)."""

from __future__ import annotations

from typing import Any

from faststream import Context
from faststream.kafka import KafkaRouter

from huying.crm_replica import crm_router
from huying.events import SlaMessage, TicketMessage
from huying.kafka import subscriber_options
from huying.settings import ServiceSettings
from huying.topics import Topics
from notify.delivery import planning

PLANNER = "notify_planner"  # the Planner in the broker's context (set in app.setup)


def tickets_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.tickets.name, **subscriber_options(settings), title="notify:tickets")
    async def on_ticket(
        event: TicketMessage, runtime: Any = Context("runtime"), planner: Any = Context(PLANNER)
    ) -> None:
        # Duplicates: the snapshot's writes are guarded (opening inserted once, later fields by their time); each
        # notification's id derives from its dedup key (event × audience × recipient × channel), so E11000.
        await planning.on_ticket_event(runtime.db, planner, event, now=runtime.clock.now())

    return router


def sla_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.sla.name, **subscriber_options(settings), title="notify:sla")
    async def on_sla(event: SlaMessage, runtime: Any = Context("runtime"), planner: Any = Context(PLANNER)) -> None:
        # Duplicates: as for tickets. A ticket whose opening has not arrived is waited for, then dead-lettered.
        await planning.on_sla_event(runtime.db, planner, event, now=runtime.clock.now())

    return router


def routers(settings: ServiceSettings, topics: Topics) -> list[KafkaRouter]:
    return [tickets_router(settings, topics), sla_router(settings, topics), crm_router(settings, topics)]
