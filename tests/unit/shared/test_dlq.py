"""Which failures are redelivered (the infrastructure is away) and which are dead-lettered (the message's fault)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError, NodeNotReadyError
from pydantic import ValidationError
from pymongo.errors import DuplicateKeyError, NetworkTimeout, ServerSelectionTimeoutError

from huying.dlq import dead_letter_for, is_transient
from huying.events import CustomerUpserted

pytestmark = pytest.mark.unit


def _validation_error() -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        CustomerUpserted.model_validate({"tier": "platinum"})
    return caught.value


@pytest.mark.parametrize(
    "error",
    [
        ServerSelectionTimeoutError("no primary"),
        NetworkTimeout("slow"),
        KafkaConnectionError(),
        NodeNotReadyError(),
        KafkaTimeoutError(),
        ConnectionRefusedError(),
        TimeoutError(),
    ],
    ids=type,
)
def test_infrastructure_failures_are_redelivered(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [_validation_error(), ValueError("bad"), KeyError("x"), MessageSizeTooLargeError(), DuplicateKeyError("dup")],
    ids=type,
)
def test_the_message_s_own_failures_are_dead_lettered(error: BaseException) -> None:
    assert not is_transient(error)


class Record:
    topic, partition, offset, key = "huying.crm.v1", 2, 41, b"C-1"


def test_a_dead_letter_keeps_the_original_bytes_headers_and_reason() -> None:
    letter = dead_letter_for(
        Record(),
        b"\xff not json",
        {"type": b"CustomerUpserted"},
        ValueError("no"),
        "huying-x",
        now=datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert letter.original_value() == b"\xff not json"
    assert (letter.original_topic, letter.partition, letter.offset) == ("huying.crm.v1", 2, 41)
    assert letter.headers == {"type": "CustomerUpserted"} and letter.error == "ValueError: no"
