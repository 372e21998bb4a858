"""A record reporting cannot read is dead-lettered on its own topic's DLQ and the partition goes on."""

from __future__ import annotations

import pytest

from huying.dlq import DeadLetter
from tests.support.kafka import consume, produce, wait_until
from tests.unit.reporting.builders import opened

pytestmark = pytest.mark.integration
POISON = b'{"type": "TicketOpened", "ticket_id": 7}'


@pytest.mark.parametrize("family", ["tickets", "sla", "notifications"])
async def test_a_poison_record_is_dead_lettered_and_the_next_one_applied(reporting, family) -> None:
    topic = getattr(reporting.runtime.topics, family)
    ticket = opened("T-AFTER")
    await produce(reporting.bootstrap, topic.name, POISON, key=b"T-AFTER")
    await reporting.produce(family, ticket)  # any topic of the model: a ticket's event is folded wherever it came
    await wait_until(lambda: reporting.runtime.db.ticket_facts.find_one({"_id": "T-AFTER"}))
    (record,) = await consume(reporting.bootstrap, topic.dlq, count=1)
    letter = DeadLetter.model_validate_json(record.value)
    assert (letter.original_topic, letter.original_value()) == (topic.name, POISON)
    assert letter.consumer.startswith(f"{reporting.settings.group_id}.events.")  # the read model's epoch group
