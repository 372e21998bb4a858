"""What a dead letter holds: the original record, whole or cut to fit with its size and SHA-256, why it failed,
who failed, when. Pure: `dead_letter_for` decides how much of a record a letter keeps (tested exhaustively)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class DeadLetter(BaseModel):
    """What `<topic>.dlq` holds: the original record (whole, or cut with its size and hash), why it failed, who
    failed, when. `cut` names what the letter does not hold whole; such a letter is not replayed from itself."""

    original_topic: str = Field(description="Topic the message came from.")
    partition: int | None = Field(default=None, description="Its partition.")
    offset: int | None = Field(default=None, description="Its offset.")
    key_b64: str | None = Field(default=None, description="Original key, base64 (its first bytes if `key` is cut).")
    value_b64: str = Field(
        default="", description="Original value bytes, base64 (the first bytes only, or none, if `value` is cut)."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Original headers (UTF-8 text).")
    error: str = Field(description="Why it could not be handled.")
    consumer: str = Field(description="Consumer group that gave up on it.")
    failed_at: datetime = Field(description="When (UTC).")
    value_size: int | None = Field(default=None, description="Size of the original value in bytes.")
    value_sha256: str | None = Field(default=None, description="SHA-256 of the original value, hex.")
    key_sha256: str | None = Field(default=None, description="SHA-256 of the original key, hex (when it is cut).")
    cut: list[str] = Field(
        default_factory=list,
        description="What is not held whole: `value`, `key`, `headers` (too many, too long or not UTF-8), `error`.",
    )

    def original_value(self) -> bytes:
        return base64.b64decode(self.value_b64)

    def original_key(self) -> bytes | None:
        return None if self.key_b64 is None else base64.b64decode(self.key_b64)

    @property
    def complete(self) -> bool:
        """The letter holds the whole record (key, value, headers): it can be replayed from itself."""
        return not {"value", "key", "headers"} & set(self.cut)

    @property
    def reference(self) -> str:
        return f"{self.original_topic}[{self.partition}]@{self.offset}"

    def minimal(self, *, error_chars: int = 1000) -> DeadLetter:
        """The same letter without payload or headers: the reference, the hash and the reason only."""
        cut = {*self.cut, "value"} | ({"headers"} if self.headers else set())
        if len(self.error) > error_chars:
            cut.add("error")
        return self.model_copy(
            update={"value_b64": "", "headers": {}, "error": self.error[:error_chars], "cut": sorted(cut)}
        )


@dataclass(frozen=True)
class LetterLimits:
    """How much of a record a letter holds; `letter_bytes` stays under Kafka's 1 MiB default record size."""

    value_bytes: int = 262_144
    key_bytes: int = 1024
    header_bytes: int = 1024
    headers: int = 64
    error_chars: int = 4000
    letter_bytes: int = 900_000

    @classmethod
    def of(cls, settings: Any) -> LetterLimits:
        # base64 grows the value by 4/3: half a MiB inline at most, whatever the setting says
        return cls(value_bytes=min(settings.dlq_inline_bytes, 524_288))


def _text_headers(headers: Mapping[str, Any] | Iterable[tuple[str, Any]], limits: LetterLimits) -> tuple[dict, bool]:
    """Headers as text, bounded; True if any was dropped, shortened or not UTF-8."""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    cut = len(pairs) > limits.headers
    text: dict[str, str] = {}
    for key, value in pairs[: limits.headers]:
        raw = value if isinstance(value, bytes) else str(value).encode()
        try:
            decoded = raw[: limits.header_bytes].decode()
        except UnicodeDecodeError:
            decoded, cut = raw[: limits.header_bytes].decode(errors="replace"), True
        cut = cut or len(raw) > limits.header_bytes or len(str(key)) > limits.header_bytes
        text[str(key)[: limits.header_bytes]] = decoded
    return text, cut


def dead_letter_for(
    raw: Any,
    body: bytes,
    headers: Mapping[str, Any] | Iterable[tuple[str, Any]],
    error: BaseException,
    consumer: str,
    now: datetime,
    limits: LetterLimits = LetterLimits(),
) -> DeadLetter:
    """The letter for a consumed Kafka record, within the limits (minimal if even the cut one would not fit)."""
    key = getattr(raw, "key", None)
    body = body or b""
    cut: list[str] = []
    if len(body) > limits.value_bytes:
        cut.append("value")
    if isinstance(key, bytes) and len(key) > limits.key_bytes:
        cut.append("key")
    text, headers_cut = _text_headers(headers, limits)
    if headers_cut:
        cut.append("headers")
    reason = f"{type(error).__name__}: {error}"
    if len(reason) > limits.error_chars:
        cut.append("error")
    letter = DeadLetter(
        original_topic=getattr(raw, "topic", "?"),
        partition=getattr(raw, "partition", None),
        offset=getattr(raw, "offset", None),
        key_b64=base64.b64encode(key[: limits.key_bytes]).decode() if isinstance(key, bytes) else None,
        key_sha256=hashlib.sha256(key).hexdigest() if "key" in cut else None,
        value_b64=base64.b64encode(body[: limits.value_bytes]).decode(),
        value_size=len(body),
        value_sha256=hashlib.sha256(body).hexdigest(),
        headers=text,
        error=reason[: limits.error_chars],
        consumer=consumer,
        failed_at=now,
        cut=cut,
    )
    return letter if letter_size(letter) <= limits.letter_bytes else letter.minimal()


def letter_size(letter: DeadLetter) -> int:
    return len(letter.model_dump_json().encode())
