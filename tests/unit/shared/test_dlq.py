"""Which failures are retried (the infrastructure is away) and which are dead-lettered (the message's fault); a
letter always fits; a letter Kafka refuses is replaced by a minimal one; the middleware retries in place."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NodeNotReadyError,
    TopicAuthorizationFailedError,
)
from faststream import ContextRepo
from faststream.kafka import KafkaMessage, TestKafkaBroker
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from pymongo.errors import AutoReconnect, DuplicateKeyError, NetworkTimeout, ServerSelectionTimeoutError

from huying.backoff import Backoff
from huying.dlq import DeadLetter, DeadLetterOffice, LetterLimits, dead_letter_for, is_transient, letter_size
from huying.events import CustomerUpserted
from huying.failures import FailureMetrics
from huying.kafka import make_broker, subscriber_options
from huying.settings import ServiceSettings

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


# ---- a letter always fits ----------------------------------------------------------------------------------------


class Big:
    topic, partition, offset, key = "huying.crm.v1", 0, 7, b"C-1"


def letter_of(body: bytes, headers=(), limits: LetterLimits = LetterLimits(), raw=None, error=None) -> DeadLetter:
    return dead_letter_for(raw or Big(), body, headers, error or ValueError("bad"), "huying-x", T, limits)


T = datetime(2026, 3, 2, tzinfo=UTC)


def test_a_value_up_to_the_inline_size_is_copied_whole_with_its_size_and_hash() -> None:
    body = b"v" * 1024
    letter = letter_of(body, limits=LetterLimits(value_bytes=1024))
    assert letter.original_value() == body and letter.complete and letter.cut == []
    assert (letter.value_size, letter.value_sha256) == (1024, hashlib.sha256(body).hexdigest())


def test_a_larger_value_keeps_its_first_bytes_its_size_and_hash_and_is_not_complete() -> None:
    body = bytes(range(256)) * 4000  # 1,024,000 bytes: base64 of it alone would pass Kafka's 1 MiB
    letter = letter_of(body)
    assert letter.original_value() == body[:262_144] and letter.cut == ["value"] and not letter.complete
    assert (letter.value_size, letter.value_sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert letter.reference == "huying.crm.v1[0]@7"
    assert letter_size(letter) < 1024 * 1024


def test_headers_that_are_too_many_too_long_or_not_text_are_cut_and_say_so() -> None:
    limits = LetterLimits(headers=2, header_bytes=8)
    assert letter_of(b"{}", [("a", b"1"), ("b", b"2")], limits).cut == []
    assert letter_of(b"{}", [("a", b"1"), ("b", b"2"), ("c", b"3")], limits).headers == {"a": "1", "b": "2"}
    long = letter_of(b"{}", [("a", b"0123456789")], limits)
    assert (long.headers, long.cut, long.complete) == ({"a": "01234567"}, ["headers"], False)
    binary = letter_of(b"{}", [("a", b"\xff\xfe")], limits)
    assert binary.cut == ["headers"] and binary.headers["a"] == "\ufffd\ufffd"


def test_a_long_key_is_cut_with_its_hash_and_a_long_reason_is_cut_without_spoiling_a_replay() -> None:
    class LongKey(Big):
        key = b"k" * 5000

    letter = letter_of(b"{}", raw=LongKey(), error=ValueError("x" * 10_000))
    assert letter.cut == ["key", "error"] and not letter.complete
    assert letter.key_sha256 == hashlib.sha256(LongKey.key).hexdigest() and len(letter.original_key()) == 1024
    assert len(letter.error) == 4000
    assert letter_of(b"{}", error=ValueError("x" * 10_000)).complete  # only the reason cut: still replayable


def test_a_letter_that_would_still_not_fit_is_sent_minimal_with_the_reference_and_hash() -> None:
    letter = letter_of(b"v" * 5000, [("h", b"1")], LetterLimits(value_bytes=4096, letter_bytes=2048))
    assert (letter.value_b64, letter.headers, letter.cut) == ("", {}, ["headers", "value"])
    assert letter.value_size == 5000 and letter.value_sha256 == hashlib.sha256(b"v" * 5000).hexdigest()


def test_the_inline_size_comes_from_the_settings_but_never_beyond_what_fits() -> None:
    assert LetterLimits.of(ServiceSettings(dlq_inline_bytes=4096)).value_bytes == 4096
    assert LetterLimits.of(ServiceSettings(dlq_inline_bytes=10_000_000)).value_bytes == 524_288


@given(
    size=st.integers(0, 1_200_000),
    key=st.binary(max_size=3000),
    headers=st.lists(st.tuples(st.text(max_size=40), st.binary(max_size=3000)), max_size=100),
    inline=st.integers(1024, 10_000_000),
)
@settings(max_examples=60, deadline=None)
def test_any_record_makes_a_letter_that_fits_and_holds_a_prefix_of_the_value(size, key, headers, inline) -> None:
    class Keyed(Big):
        pass

    Keyed.key = key
    body = bytes([size % 251]) * size
    letter = letter_of(body, headers, LetterLimits.of(ServiceSettings(dlq_inline_bytes=inline)), raw=Keyed())
    assert letter_size(letter) <= LetterLimits().letter_bytes
    assert body.startswith(letter.original_value()) and letter.value_size == size
    assert letter.complete == (letter.original_value() == body and letter.original_key() == key and not (
        {"headers"} & set(letter.cut)))  # fmt: skip


# ---- the office: retries, then the letter, then a minimal one --------------------------------------------------


class FakeBroker:
    """Records what is published; `refusals` are raised, in order, by the next publishes."""

    def __init__(self, *refusals: BaseException) -> None:
        self.refusals, self.sent = list(refusals), []
        self.context = ContextRepo()

    async def publish(self, body: bytes, *, topic: str, key: bytes | None = None, **_: object) -> None:
        if self.refusals:
            raise self.refusals.pop(0)
        self.sent.append((topic, key, DeadLetter.model_validate_json(body)))


class Poison(Big):
    value, headers = b"\xff not json", [("type", b"CustomerUpserted")]


def office(registry: CollectorRegistry, **kw) -> DeadLetterOffice:
    async def no_wait(_: float) -> None:
        pass

    return DeadLetterOffice(
        consumer="huying-x", metrics=FailureMetrics(registry, "notify"), backoff=Backoff(0.01, 0.01), sleep=no_wait,
        **kw,
    )  # fmt: skip


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, {"service": "notify", **labels}) or 0.0


async def test_a_record_is_dead_lettered_once_per_delivery_even_if_its_batch_is_handled_again() -> None:
    registry, broker = CollectorRegistry(), FakeBroker()
    post = office(registry)
    with post.delivery(lambda: False):
        assert await post.send(broker, Poison(), Poison.value, Poison.headers, ValueError("no"), "g") == "whole"
        assert await post.send(broker, Poison(), Poison.value, Poison.headers, ValueError("no"), "g") == "again"
    [(topic, key, letter)] = broker.sent
    assert (topic, key, letter.original_value(), letter.consumer) == ("huying.crm.v1.dlq", b"C-1", Poison.value, "g")
    assert count(registry, "huying_dead_letters_total", topic="huying.crm.v1", letter="whole") == 1


async def test_a_letter_refused_for_good_is_replaced_by_a_minimal_one() -> None:
    registry, broker = CollectorRegistry(), FakeBroker(MessageSizeTooLargeError())
    assert await office(registry).send(broker, Poison(), Poison.value, Poison.headers, ValueError("no"), "g") == (
        "minimal"
    )
    [(_, _, letter)] = broker.sent
    assert (letter.value_b64, letter.value_size, letter.reference) == ("", len(Poison.value), "huying.crm.v1[0]@7")
    assert count(registry, "huying_dead_letters_total", topic="huying.crm.v1", letter="minimal") == 1


async def test_when_even_the_minimal_letter_is_refused_it_is_logged_loudly_and_the_partition_moves_on(caplog) -> None:
    registry = CollectorRegistry()
    broker = FakeBroker(TopicAuthorizationFailedError(), TopicAuthorizationFailedError())
    assert await office(registry).send(broker, Poison(), Poison.value, (), ValueError("no"), "g") == "unsent"
    assert broker.sent == []
    [line] = [r for r in caplog.records if "NOT DEAD-LETTERED" in r.getMessage()]
    assert line.levelname == "ERROR" and "huying.crm.v1[0]@7" in line.getMessage()
    assert count(registry, "huying_dead_letters_total", topic="huying.crm.v1", letter="unsent") == 1


async def test_a_letter_kafka_cannot_take_for_now_is_retried_with_backoff() -> None:
    registry, broker = CollectorRegistry(), FakeBroker(KafkaConnectionError(), KafkaConnectionError())
    assert await office(registry).send(broker, Poison(), Poison.value, (), ValueError("no"), "g") == "whole"
    assert len(broker.sent) == 1
    assert count(registry, "huying_consumer_retries_total", topic="huying.crm.v1.dlq") == 2


async def test_a_letter_kafka_cannot_take_within_the_window_fails_the_delivery_to_be_redelivered() -> None:
    broker = FakeBroker(*[KafkaConnectionError()] * 1000)
    clock = iter(range(0, 10_000, 1)).__next__  # one second passes at every look
    with pytest.raises(KafkaConnectionError):
        await office(CollectorRegistry(), window=10.0, clock=clock).send(broker, Poison(), b"", (), ValueError(), "g")
    assert broker.sent == []


# ---- the middleware, wired into a broker (FastStream's in-memory test broker) -----------------------------------


def wired(**retry: float) -> tuple[Any, list[Any], list[DeadLetter], CollectorRegistry]:
    settings = ServiceSettings(retry_initial_seconds=0.001, retry_max_seconds=0.002, **retry)
    registry = CollectorRegistry()
    broker = make_broker(settings, registry)
    runs: list[Any] = []
    letters: list[DeadLetter] = []

    @broker.subscriber("t.dlq")
    async def on_letter(message: KafkaMessage) -> None:
        letters.append(DeadLetter.model_validate_json(message.body))

    return broker, runs, letters, registry


async def test_a_handler_failing_transiently_runs_again_after_a_wait_and_nothing_is_dead_lettered() -> None:
    broker, runs, letters, registry = wired()

    @broker.subscriber("t", **subscriber_options(ServiceSettings()))
    async def on_record(body: dict) -> None:
        runs.append(body)
        if len(runs) < 4:
            raise AutoReconnect("database away")

    async with TestKafkaBroker(broker) as test:
        await test.publish({"n": 1}, topic="t")
    assert (len(runs), letters) == (4, [])
    assert registry.get_sample_value("huying_consumer_retries_total", {"service": "huying", "topic": "t"}) == 3


async def test_a_handler_failing_for_good_is_dead_lettered_with_the_reason_and_not_retried() -> None:
    broker, runs, letters, _ = wired()

    @broker.subscriber("t", **subscriber_options(ServiceSettings()))
    async def on_record(body: dict) -> None:
        runs.append(body)
        raise ValueError("no such ticket")

    async with TestKafkaBroker(broker) as test:
        await test.publish({"n": 1}, topic="t", key=b"T-1")
    [letter] = letters
    assert len(runs) == 1 and letter.error == "ValueError: no such ticket" and letter.consumer == "huying-huying"
    assert json.loads(letter.original_value()) == {"n": 1} and letter.original_key() == b"T-1"


async def test_a_batch_failing_transiently_is_retried_whole() -> None:
    broker, runs, letters, _ = wired()

    @broker.subscriber("t", **subscriber_options(ServiceSettings(), batch=True))
    async def on_batch(body: list[dict]) -> None:
        runs.append(body)
        if len(runs) < 3:
            raise ConnectionRefusedError()

    async with TestKafkaBroker(broker) as test:
        await test.publish_batch({"n": 1}, {"n": 2}, topic="t")
    assert runs == [[{"n": 1}, {"n": 2}]] * 3 and letters == []
