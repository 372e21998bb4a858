"""reporting's Kafka subscribers, attached explicitly in app.py: the CRM replica, and one read-model subscriber on
the ticket, SLA and notification topics (one consumer group, one epoch: `huying.rebuild`)."""

from __future__ import annotations

from typing import Annotated, Any, Union, get_args

from faststream import Context
from faststream.kafka import KafkaMessage, KafkaRouter
from pydantic import Field

from huying.crm_replica import crm_router
from huying.events import NotificationMessage, SlaMessage, TicketMessage
from huying.kafka import subscriber_options
from huying.rebuild import ReadModel, Replica, bind
from huying.settings import ServiceSettings
from huying.topics import Topics
from reporting import projection, store


def _members(annotated: Any) -> tuple[type, ...]:
    return get_args(get_args(annotated)[0])


EVENT_TYPES = (*_members(TicketMessage), *_members(SlaMessage), *_members(NotificationMessage))
ReportingMessage = Annotated[Union[EVENT_TYPES], Field(discriminator="type")]  # noqa: UP007 - built from a tuple


def events_model(settings: ServiceSettings, topics: Topics) -> ReadModel:
    """The facts, notification outcomes and line quality as one read model of three topics (group
    `<group>.events.<epoch>`)."""
    names = (topics.tickets.name, topics.sla.name, topics.notifications.name)
    return ReadModel("events", names, store.COLLECTIONS, f"{settings.group_id}.events")


def events_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    router = KafkaRouter()
    replica = Replica(events_model(settings, topics))
    options = subscriber_options(settings, group_id=replica.group)
    subscriber = router.subscriber(*replica.model.topics, **options, title="reporting:events")
    bind(subscriber, replica)

    @subscriber
    async def on_event(event: ReportingMessage, message: KafkaMessage, runtime: Any = Context("runtime")) -> None:
        # Duplicates: a ticket's event id is recorded in the same write as its facts (`applied`); a notification's
        # or budget's outcome is an upsert that changes nothing for an event not newer than the stored one.
        await projection.apply(runtime.db, event)
        await replica.applied(runtime.db, [message.raw_message])  # before the offset is committed

    return router


def routers(settings: ServiceSettings, topics: Topics) -> list[KafkaRouter]:
    return [crm_router(settings, topics), events_router(settings, topics)]
