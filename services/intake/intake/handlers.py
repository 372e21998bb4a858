"""intake's Kafka subscribers, one router per topic, attached explicitly in app.py. A message that cannot be
parsed is dead-lettered to `<topic>.dlq` by the shared middleware and the partition moves on."""

from __future__ import annotations

from typing import Any

from faststream import Context
from faststream.kafka import KafkaMessage, KafkaRouter
from pydantic import TypeAdapter, ValidationError

from huying.crm_replica import CrmEvent
from huying.crm_replica import crm_router as replica_router
from huying.dlq import dead_letter_record
from huying.events import AlarmMessage, AlarmRaised, ReportReceived, ServiceLineUpserted
from huying.kafka import subscriber_options
from huying.settings import ServiceSettings
from huying.topics import Topics
from intake.domain import rules as channel
from intake.domain.arrivals import from_alarm, from_clearance, from_report

INTAKE = "intake"  # the Intake process in the broker's context, set by app.setup
ALARM: TypeAdapter[AlarmMessage] = TypeAdapter(AlarmMessage)


def _concurrent(settings: ServiceSettings) -> dict[str, Any]:
    """One consumer per worker, each with its own partitions: order per partition (per line, per report) is kept
    and offsets are still committed after the work; a storm uses more than one database round trip at a time."""
    return subscriber_options(settings, max_workers=getattr(settings, "kafka_workers", 1))


def reports_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    router = KafkaRouter()

    # Idempotent: the report's source_system:external_id is inserted once; a redelivery returns that outcome.
    @router.subscriber(topics.intake.name, **_concurrent(settings), title="intake:reports")
    async def on_report(report: ReportReceived, intake: Any = Context(INTAKE)) -> None:
        arrival = from_report(report)
        if problem := channel.from_the_future(arrival, intake.clock.now(), intake.rules):
            raise ValueError(f"reported_at: {problem}")  # dead-lettered with the reason; the partition goes on
        await intake.take(arrival)

    return router


def alarms_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    router = KafkaRouter()
    source = getattr(settings, "alarm_source_system", "nms")
    options = subscriber_options(settings, batch=True, max_records=getattr(settings, "alarm_batch", 500))

    # Idempotent: an alarm is the report "nms:<alarm_id>" (a clearance "nms:<alarm_id>:cleared"), inserted once.
    # Consumed in batches (a storm brings thousands a minute): a record that cannot be parsed or handled is
    # dead-lettered on its own, and the batch's offsets are committed once every other record has its outcome.
    @router.subscriber(topics.alarms.name, **options, title="intake:alarms")
    async def on_alarms(
        _: list[Any],
        message: KafkaMessage,
        broker: Any = Context("broker"),
        intake: Any = Context(INTAKE),
    ) -> None:
        records = message.raw_message if isinstance(message.raw_message, tuple | list) else (message.raw_message,)
        arrivals, clearances, origin = [], [], {}
        for record in records:
            try:
                alarm = ALARM.validate_json(record.value)
            except ValidationError as error:
                await dead_letter_record(broker, record, error, settings.group_id)
                continue
            if isinstance(alarm, AlarmRaised):
                arrival = from_alarm(alarm, source_system=source)
                if problem := channel.from_the_future(arrival, intake.clock.now(), intake.rules):
                    await dead_letter_record(broker, record, ValueError(f"raised_at: {problem}"), settings.group_id)
                    continue
                arrivals.append(arrival)
                origin[len(arrivals) - 1] = record
            else:
                clearances.append(from_clearance(alarm, source_system=source))
        outcomes = await intake.take_batch(arrivals) if arrivals else []
        for n, outcome in enumerate(outcomes):
            if isinstance(outcome, Exception):
                await dead_letter_record(broker, origin[n], outcome, settings.group_id)
        for clearance in clearances:
            await intake.record_only(clearance, "alarm cleared")

    return router


def crm_router(settings: ServiceSettings, topics: Topics) -> KafkaRouter:
    # Idempotent: the replica never applies a record that is not newer than the stored one; verification emits
    # TicketVerified under a deterministic id once per ticket. One upgrade per batch (not per event).
    async def upgrade(runtime: Any, events: list[CrmEvent]) -> None:
        intake = runtime.broker.context.get(INTAKE)
        lines = [e.service_line_id for e in events if isinstance(e, ServiceLineUpserted)]
        await intake.upgrade(customer_ids=[e.customer_id for e in events], line_ids=lines)

    return replica_router(settings, topics, after=upgrade, title="intake:crm")


def routers(settings: ServiceSettings, topics: Topics) -> list[KafkaRouter]:
    return [reports_router(settings, topics), alarms_router(settings, topics), crm_router(settings, topics)]
