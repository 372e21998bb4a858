"""Dead-lettering: a message that cannot be parsed or handled goes to `<topic>.dlq` and the partition moves on.

Errors from the infrastructure itself (database or broker unreachable) are not the message's fault: those are
re-raised so the record is redelivered once the dependency is back, rather than dead-lettered.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError, KafkaTimeoutError
from faststream import BaseMiddleware
from pydantic import BaseModel, Field
from pymongo.errors import ConnectionFailure

log = logging.getLogger("huying.dlq")


def is_transient(error: BaseException) -> bool:
    """Infrastructure away (database unreachable, broker unavailable, a retriable Kafka error): redeliver later.
    Anything else, including non-retriable Kafka errors such as a record too large, is the message's problem."""
    if isinstance(error, ConnectionFailure | ConnectionError | TimeoutError | KafkaTimeoutError):
        return True
    return isinstance(error, KafkaError) and bool(getattr(error, "retriable", False))


class DeadLetter(BaseModel):
    """What `<topic>.dlq` holds: the original bytes and headers, why it failed, who failed, when."""

    original_topic: str = Field(description="Topic the message came from.")
    partition: int | None = Field(default=None, description="Its partition.")
    offset: int | None = Field(default=None, description="Its offset.")
    key_b64: str | None = Field(default=None, description="Original key, base64.")
    value_b64: str = Field(description="Original value bytes, base64.")
    headers: dict[str, str] = Field(default_factory=dict, description="Original headers.")
    error: str = Field(description="Why it could not be handled.")
    consumer: str = Field(description="Consumer group that gave up on it.")
    failed_at: datetime = Field(description="When (UTC).")

    def original_value(self) -> bytes:
        return base64.b64decode(self.value_b64)


def dead_letter_for(
    raw: Any, body: bytes, headers: dict[str, Any], error: BaseException, consumer: str, now: datetime
) -> DeadLetter:
    """Build the DLQ record for a consumed Kafka record."""
    key = getattr(raw, "key", None)
    return DeadLetter(
        original_topic=getattr(raw, "topic", "?"),
        partition=getattr(raw, "partition", None),
        offset=getattr(raw, "offset", None),
        key_b64=base64.b64encode(key).decode() if isinstance(key, bytes) else None,
        value_b64=base64.b64encode(body).decode(),
        headers={str(k): (v.decode(errors="replace") if isinstance(v, bytes) else str(v)) for k, v in headers.items()},
        error=f"{type(error).__name__}: {error}"[:4000],
        consumer=consumer,
        failed_at=now,
    )


async def dead_letter(
    broker: Any, raw: Any, body: bytes, headers: dict[str, Any], error: BaseException, consumer: str
) -> None:
    """Publish one consumed record to `<topic>.dlq` with the reason, so its partition can move on."""
    letter = dead_letter_for(raw, body, headers, error, consumer, datetime.now(UTC))
    await broker.publish(
        letter.model_dump_json().encode(), topic=f"{letter.original_topic}.dlq", key=getattr(raw, "key", None)
    )
    log.warning("dead-lettered %s[%s]@%s: %s", letter.original_topic, letter.partition, letter.offset, letter.error)


async def dead_letter_record(broker: Any, record: Any, error: BaseException, consumer: str) -> None:
    """`dead_letter` for a raw aiokafka record (one of a batch)."""
    headers = {key: value for key, value in getattr(record, "headers", None) or ()}
    await dead_letter(broker, record, record.value, headers, error, consumer)


class DeadLetterMiddleware(BaseMiddleware):
    """Catch a handler's non-transient failure, publish the record to the DLQ, and let it be acknowledged. A batch
    handler should dead-letter its own bad records (`dead_letter_record`); if it fails as a whole, every record of
    the batch is dead-lettered rather than the batch blocking its partitions."""

    consumer = "huying"

    @classmethod
    def for_consumer(cls, consumer: str) -> type[DeadLetterMiddleware]:
        return type(cls.__name__, (cls,), {"consumer": consumer})

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        try:
            return await call_next(msg)
        except Exception as error:
            if is_transient(error):
                raise  # the ack policy redelivers it once the dependency is back
            broker, raw = self.context.get("broker"), msg.raw_message
            if isinstance(raw, tuple | list):
                for record in raw:
                    await dead_letter_record(broker, record, error, self.consumer)
            else:
                await dead_letter(broker, raw, msg.body, dict(msg.headers), error, self.consumer)
            return None
