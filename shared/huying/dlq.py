"""Failure paths of a consumer: a record whose handler fails for a transient reason (database or broker away) is
retried in place with backoff while its partition waits; a record that cannot be parsed or handled goes to
`<topic>.dlq` and the partition moves on.

A letter always fits: the value is copied whole up to `dlq_inline_bytes`, a larger one keeps its first bytes, its
size and SHA-256 and is referenced by topic, partition and offset; headers, key and reason are bounded too. If Kafka
refuses the letter for good, a minimal one (no payload: the reference and the hash) is sent instead; if even that
is refused, the record is logged at error with its reference and the partition moves on all the same — the record
is still in its source topic at that offset, while holding the partition would stall every good record behind it
for a fault of the dead-letter topic (metric `huying_dead_letters_total{letter="unsent"}`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError, KafkaTimeoutError
from faststream import BaseMiddleware
from pymongo.errors import ConnectionFailure

from huying.backoff import Attempts, Backoff, Retry, retrying
from huying.failures import FailureMetrics, failure_metrics
from huying.letter import DeadLetter, LetterLimits, dead_letter_for, letter_size

__all__ = [  # the letter's model and sizing live in huying.letter; consumers import them from here too
    "DeadLetter",
    "DeadLetterMiddleware",
    "DeadLetterOffice",
    "LetterLimits",
    "dead_letter",
    "dead_letter_for",
    "dead_letter_record",
    "is_transient",
    "letter_size",
]

log = logging.getLogger("huying.dlq")

DEAD_LETTERS = "huying_dead_letters"  # key of the broker's DeadLetterOffice in its context
WINDOW = 120.0  # seconds one delivery is retried in place, well under max.poll.interval.ms (300 s)


def is_transient(error: BaseException) -> bool:
    """Infrastructure away (database unreachable, broker unavailable, a retriable Kafka error): redeliver later.
    Anything else, including non-retriable Kafka errors such as a record too large, is the message's problem."""
    if isinstance(error, ConnectionFailure | ConnectionError | TimeoutError | KafkaTimeoutError):
        return True
    return isinstance(error, KafkaError) and bool(getattr(error, "retriable", False))


def _records(raw: Any) -> tuple[Any, ...]:
    return tuple(raw) if isinstance(raw, tuple | list) else (raw,)


def _short(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:300]}"


def _utf8(value: Any) -> bool:
    try:
        value.decode()
    except (AttributeError, UnicodeDecodeError):
        return False
    return True


def _ref(record: Any) -> tuple[str, int | None, int | None]:
    return getattr(record, "topic", "?"), getattr(record, "partition", None), getattr(record, "offset", None)


@dataclass
class Delivery:
    """One delivery of a record (or batch) to a handler: since when, whether the service is stopping, and which
    of its records were dead-lettered already (a batch retried after a transient failure letters them once)."""

    stopping: Callable[[], bool] = lambda: False
    started: float = field(default_factory=time.monotonic)
    lettered: set[tuple[str, int | None, int | None]] = field(default_factory=set)


_DELIVERY: ContextVar[Delivery | None] = ContextVar("huying_delivery", default=None)


class DeadLetterOffice:
    """Retries and dead letters for one broker: its limits, its backoff, its counters."""

    def __init__(
        self,
        *,
        consumer: str,
        metrics: FailureMetrics,
        backoff: Backoff = Backoff(0.2, 30.0),
        limits: LetterLimits = LetterLimits(),
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
    ) -> None:
        self.consumer, self.metrics, self.backoff, self.limits = consumer, metrics, backoff, limits
        self.window, self.clock, self.sleep = window, clock, sleep
        self._attempts: OrderedDict[tuple[Any, ...], Attempts] = OrderedDict()

    @classmethod
    def of(cls, settings: Any, metrics: FailureMetrics) -> DeadLetterOffice:
        return cls(
            consumer=settings.group_id, metrics=metrics, backoff=Backoff.of(settings), limits=LetterLimits.of(settings)
        )

    @contextlib.contextmanager
    def delivery(self, stopping: Callable[[], bool]) -> Iterator[Delivery]:
        current = Delivery(stopping=stopping, started=self.clock())
        token = _DELIVERY.set(current)
        try:
            yield current
        finally:
            _DELIVERY.reset(token)

    def _current(self) -> Delivery:
        return _DELIVERY.get() or Delivery(started=self.clock())

    def _retry(self, delivery: Delivery) -> Retry:
        left = self.window - (self.clock() - delivery.started)
        if self.sleep is None:
            return Retry(self.backoff, left, clock=self.clock)
        return Retry(self.backoff, left, sleep=self.sleep, clock=self.clock)

    async def handle(self, call: Callable[[], Awaitable[Any]], records: tuple[Any, ...], consumer: str) -> Any:
        """Run a handler, retrying it while it fails transiently (the count goes on over redeliveries of the same
        record); raises when the window is over or the service stops, so the record is redelivered."""
        topic, partition, offset = _ref(records[0])
        where = f"{topic}[{partition}]@{offset}" + (f" (+{len(records) - 1} more)" if len(records) > 1 else "")
        key = (consumer, topic, partition, offset)
        attempts = self._attempts.setdefault(key, Attempts())
        self._attempts.move_to_end(key)
        while len(self._attempts) > 10_000:  # records whose delivery moved to another consumer
            self._attempts.popitem(last=False)

        def retried(attempt: int, wait: float, error: BaseException) -> None:
            self.metrics.retried(topic)
            log.warning("retry %d of %s in %.2f s: %s", attempt, where, wait, _short(error))

        delivery = self._current()
        try:
            result = await retrying(
                call, retry=self._retry(delivery), transient=is_transient, on_retry=retried,
                stopping=delivery.stopping, attempts=attempts,
            )  # fmt: skip
        except Exception as error:
            if is_transient(error):
                why = "the service stops" if delivery.stopping() else f"still failing after {attempts.made} retries"
                log.warning("%s: %s, handed back to Kafka for redelivery: %s", where, why, _short(error))
            else:
                self._attempts.pop(key, None)
            raise
        self._attempts.pop(key, None)
        return result

    async def send(
        self, broker: Any, record: Any, body: bytes, headers: Any, error: BaseException, consumer: str
    ) -> str:
        """Publish the letter for one record (once per delivery); returns which letter went: whole, truncated,
        minimal or unsent. Raises only a transient failure that outlasted the window (the record is redelivered)."""
        delivery = self._current()
        ref = _ref(record)
        if ref in delivery.lettered:
            return "again"
        letter = dead_letter_for(record, body, headers, error, consumer, datetime.now(UTC), self.limits)
        kind = "whole" if not letter.cut or letter.cut == ["error"] else "truncated"
        if "value" in letter.cut and not letter.value_b64:
            kind = "minimal"
        try:
            await self._publish(broker, letter, delivery)
        except Exception as refused:
            if is_transient(refused):
                raise
            log.error("dead letter of %s refused (%r); sending one without payload", letter.reference, refused)
            try:
                await self._publish(broker, letter.minimal(), delivery)
                kind = "minimal"
            except Exception as again:
                if is_transient(again):
                    raise
                kind = "unsent"
                log.error(
                    "NOT DEAD-LETTERED: %s (value %s bytes, sha256 %s) failed with %s, and %s refused even a minimal "
                    "letter (%r); the partition moves on, the record stays in its topic at that offset",
                    letter.reference, letter.value_size, letter.value_sha256, letter.error,
                    _dlq_topic(letter), again,
                )  # fmt: skip
        delivery.lettered.add(ref)
        self.metrics.dead_lettered(letter.original_topic, kind)
        if kind != "unsent":
            log.warning("dead-lettered %s (%s letter): %s", letter.reference, kind, letter.error)
        return kind

    async def _publish(self, broker: Any, letter: DeadLetter, delivery: Delivery) -> None:
        key = letter.original_key() if "key" not in letter.cut else None

        def retried(attempt: int, wait: float, error: BaseException) -> None:
            self.metrics.retried(_dlq_topic(letter))
            log.warning("retry %d of the dead letter of %s in %.2f s: %s", attempt, letter.reference, wait,
                        _short(error))  # fmt: skip

        async def publish() -> None:
            await broker.publish(letter.model_dump_json().encode(), topic=_dlq_topic(letter), key=key)

        await retrying(
            publish, retry=self._retry(delivery), transient=is_transient, on_retry=retried,
            stopping=delivery.stopping,
        )  # fmt: skip


def _dlq_topic(letter: DeadLetter) -> str:
    return f"{letter.original_topic}.dlq"


def office_of(broker: Any) -> DeadLetterOffice:
    """The broker's office (made by `make_broker`); a broker built otherwise gets one with the default limits."""
    office = broker.context.get(DEAD_LETTERS)
    if office is None:
        office = DeadLetterOffice(consumer="huying", metrics=failure_metrics(broker))
        broker.context.set_global(DEAD_LETTERS, office)
    return office


async def dead_letter(
    broker: Any, raw: Any, body: bytes, headers: Mapping[str, Any], error: BaseException, consumer: str
) -> None:
    """Publish one consumed record to `<topic>.dlq` with the reason, so its partition can move on."""
    await office_of(broker).send(broker, raw, body, headers, error, consumer)


async def dead_letter_record(broker: Any, record: Any, error: BaseException, consumer: str) -> None:
    """`dead_letter` for a raw aiokafka record (one of a batch)."""
    await dead_letter(broker, record, record.value, getattr(record, "headers", None) or (), error, consumer)


class DeadLetterMiddleware(BaseMiddleware):
    """Retries a handler's transient failure in place (backoff, the partition waits); dead-letters any other
    failure and lets the record be acknowledged. A batch handler should dead-letter its own bad records
    (`dead_letter_record`); if it fails as a whole, every record of the batch is dead-lettered rather than the
    batch blocking its partitions. A record FastStream cannot even parse (a header that is not UTF-8) fails before
    the handler's scope and is dead-lettered on the way out."""

    office: DeadLetterOffice | None = None

    @classmethod
    def for_office(cls, office: DeadLetterOffice) -> type[DeadLetterMiddleware]:
        return type(cls.__name__, (cls,), {"office": office})

    def _office(self) -> DeadLetterOffice:
        return self.office or office_of(self.context.get("broker"))

    def _consumer(self) -> str:
        return getattr(self.context.get("handler_"), "group_id", None) or self._office().consumer

    def _stopping(self) -> Callable[[], bool]:
        subscriber = self.context.get("handler_")
        return lambda: not getattr(subscriber, "running", True)

    async def on_receive(self) -> None:
        # FastStream decodes every header as UTF-8 before any handler scope: a value that is not (or a null one)
        # would fail the record — a whole batch — outside dead-lettering, again at every redelivery. It is read
        # with replacement characters instead, and the record handled like any other.
        for record in _records(self.msg):
            headers = getattr(record, "headers", None) or ()
            if not all(_utf8(value) for _, value in headers):
                record.headers = tuple(
                    (k, v if _utf8(v) else (v or b"").decode(errors="replace").encode()) for k, v in headers
                )
                log.warning("%s[%s]@%s: header values that are not UTF-8 read with replacement characters",
                            *_ref(record))  # fmt: skip

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        office, records, consumer = self._office(), _records(msg.raw_message), self._consumer()
        with office.delivery(self._stopping()):
            try:
                return await office.handle(lambda: call_next(msg), records, consumer)
            except Exception as error:
                if is_transient(error):
                    raise  # the window is over or the service stops: the ack policy redelivers it
                await self._dead_letter(records, error, consumer)
                return None

    async def after_processed(
        self, exc_type: type[BaseException] | None = None, exc_val: BaseException | None = None, exc_tb: Any = None
    ) -> bool | None:
        # Only what failed outside `consume_scope` gets here un-handled: FastStream's own parsing of the record.
        if not isinstance(exc_val, Exception) or is_transient(exc_val):
            return False
        with self._office().delivery(self._stopping()):
            await self._dead_letter(_records(self.msg), exc_val, self._consumer())
        return True

    async def _dead_letter(self, records: tuple[Any, ...], error: BaseException, consumer: str) -> None:
        broker = self.context.get("broker")
        for record in records:
            await self._office().send(broker, record, record.value, record.headers or (), error, consumer)
