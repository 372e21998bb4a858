"""dispatch's Kafka subscribers, one router per topic, attached explicitly in app.py."""

from __future__ import annotations

import logging
from typing import Any

from faststream import Context
from faststream.kafka import KafkaRouter

from dispatch import operations
from huying.crm_replica import CrmEvent
from huying.crm_replica import crm_router as replica_router
from huying.events import (
    EscalationRaised,
    IncidentOpened,
    ReportLinked,
    SlaBreached,
    SlaClockStarted,
    SlaDeadlineMoved,
    SlaMessage,
    TicketMessage,
    TicketOpened,
    TicketSeverityChanged,
    TicketVerified,
)
from huying.kafka import subscriber_options
from huying.settings import ServiceSettings
from huying.topics import Topics

log = logging.getLogger("dispatch.handlers")


def tickets_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.tickets.name, **subscriber_options(settings), title="dispatch:tickets")
    async def on_ticket(event: TicketMessage, runtime: Any = Context("runtime")) -> None:
        # Duplicates: an opening is inserted under its ticket id (insert_once); a linked report's event id is
        # recorded in the same write (applied_events), as is a verification's. Lifecycle events — dispatch's
        # own — are ignored.
        if isinstance(event, TicketOpened | IncidentOpened):
            await operations.open_ticket(runtime, event)
        elif isinstance(event, ReportLinked):
            await operations.link_report(runtime, event)
        elif isinstance(event, TicketVerified):
            await operations.verify(runtime, event)

    return router


def sla_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.sla.name, **subscriber_options(settings), title="dispatch:sla")
    async def on_sla(event: SlaMessage, runtime: Any = Context("runtime")) -> None:
        # Duplicates: the event's id is recorded in the same write as its effect (applied_events); a stale breach
        # (the work item was accepted, moved or re-dispatched after its deadline) decides nothing; an escalation
        # already on the ticket, a severity it has, a deadline it holds change nothing.
        if isinstance(event, SlaBreached) and not await operations.acceptance_breached(runtime, event):
            log.debug("breach %s of %s needs no action", event.event_id, event.ticket_id)
        elif isinstance(event, EscalationRaised):
            await operations.leader_informed(runtime, event)
        elif isinstance(event, TicketSeverityChanged):
            await operations.severity_marked(runtime, event)
        elif isinstance(event, SlaClockStarted | SlaDeadlineMoved):
            await operations.restore_deadline(runtime, event)

    return router


def crm_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    # Duplicates: the replica never applies a record that is not newer than the stored one; each ticket records the
    # CRM event id in the write that changes its tier, and the TicketTierChanged id derives from both, so a
    # redelivery changes nothing. The whole batch is followed up at once (two queries, whatever its size).
    async def follow_tiers(runtime: Any, events: list[CrmEvent]) -> None:
        await operations.follow_customer_tiers(runtime, events)

    return replica_router(settings, topics, after=follow_tiers, title="dispatch:crm")


def routers(settings: ServiceSettings, topics: Topics) -> list[KafkaRouter]:
    return [tickets_router(settings, topics), sla_router(settings, topics), crm_router(settings, topics)]
