"""The contract: every message validates its example, round-trips through JSON, and carries its key."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from huying.events import ADAPTERS, CustomerUpserted, Event, ReportReceived, ServiceLineUpserted, TicketOpened
from huying.topics import Topics

pytestmark = pytest.mark.unit


def _members(family: str) -> list[type[Event]]:
    union = ADAPTERS[family]._type  # the Annotated union (or a single model)
    args = typing.get_args(union)
    inner = args[0] if args else union
    return list(typing.get_args(inner)) or [inner]


ALL_MESSAGES = [model for family in ADAPTERS for model in _members(family)]


def _example(model: type[Event]) -> dict:
    values = {}
    for name, field in model.model_fields.items():
        if name in Event.model_fields:
            continue
        assert field.description, f"{model.__name__}.{name} has no description"
        assert field.examples, f"{model.__name__}.{name} has no example"
        values[name] = field.examples[0]
    return values


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.__name__)
def test_every_message_validates_its_own_examples_and_round_trips(model: type[Event]) -> None:
    event = model.model_validate(_example(model))
    again = model.model_validate_json(event.model_dump_json())
    assert again == event
    assert event.type == model.__name__


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.__name__)
def test_every_message_has_a_partition_key(model: type[Event]) -> None:
    assert model.model_validate(_example(model)).partition_key()


def test_each_topic_parses_only_its_own_messages() -> None:
    topics = Topics()
    opened = TicketOpened.model_validate(_example(TicketOpened))
    assert isinstance(topics.tickets.adapter.validate_json(opened.model_dump_json()), TicketOpened)
    with pytest.raises(ValidationError):
        topics.sla.adapter.validate_json(opened.model_dump_json())


def test_timestamps_are_aware_and_normalised_to_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    event = ReportReceived.model_validate(
        {**_example(ReportReceived), "reported_at": datetime(2026, 3, 2, 9, 15, tzinfo=shanghai)}
    )
    assert event.reported_at == datetime(2026, 3, 2, 1, 15, tzinfo=UTC)
    assert event.reported_at.tzinfo == UTC


def test_naive_timestamps_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError) as error:
        ReportReceived.model_validate({**_example(ReportReceived), "reported_at": "2026-03-02T09:15:00"})
    assert error.value.errors()[0]["loc"] == ("reported_at",)


def test_ticket_events_are_keyed_by_ticket_id() -> None:
    opened = TicketOpened.model_validate({**_example(TicketOpened), "ticket_id": "T-42"})
    assert opened.partition_key() == b"T-42"


def test_topic_prefix_isolates_names_and_dlq_follows() -> None:
    topics = Topics("t1.")
    assert topics.tickets.name == "t1.huying.tickets.v1"
    assert topics.tickets.dlq == "t1.huying.tickets.v1.dlq"
    assert {t.base for t in topics.all()} == {
        "huying.intake.v1",
        "huying.alarms.v1",
        "huying.crm.v1",
        "huying.tickets.v1",
        "huying.sla.v1",
        "huying.notifications.v1",
    }


def test_crm_records_are_keyed_by_entity_so_compaction_keeps_every_line_of_a_customer() -> None:
    customer = CustomerUpserted.model_validate(_example(CustomerUpserted))
    line = ServiceLineUpserted.model_validate(_example(ServiceLineUpserted))
    assert customer.partition_key() == f"customer:{customer.customer_id}".encode()
    assert line.partition_key() == f"line:{line.service_line_id}".encode()
    assert line.customer_id == customer.customer_id and line.partition_key() != customer.partition_key()
