"""JSON logs, one object per line, carrying the ticket and correlation ids of the message being handled."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_ticket_id: ContextVar[str | None] = ContextVar("ticket_id", default=None)
_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


@contextmanager
def log_context(*, ticket_id: str | None = None, correlation_id: str | None = None) -> Iterator[None]:
    """Attach ticket and correlation ids to every log line written inside the block."""
    tokens = (_ticket_id.set(ticket_id), _correlation_id.set(correlation_id))
    try:
        yield
    finally:
        _ticket_id.reset(tokens[0])
        _correlation_id.reset(tokens[1])


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, var in (("ticket_id", _ticket_id), ("correlation_id", _correlation_id)):
            value = getattr(record, key, None) or var.get()
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route all logging (ours, FastStream's, uvicorn's) to stdout as JSON."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "aiokafka", "pymongo"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("aiokafka").setLevel("WARNING")
    logging.getLogger("pymongo").setLevel("WARNING")


TICKET_KEYED = ("huying.tickets.v1", "huying.sla.v1")
LINE_KEYED_TYPES = ("QualityBudgetWarning", "QualityBudgetExceeded")  # on huying.sla.v1, keyed by service line


def ids_of_record(topic: str, key: bytes | None, headers: dict[str, str]) -> dict[str, str | None]:
    """Ticket and correlation ids of a consumed Kafka record (ticket topics are keyed by ticket id)."""
    keyed_by_ticket = topic.endswith(TICKET_KEYED) and headers.get("type") not in LINE_KEYED_TYPES
    ticket = key.decode(errors="replace") if key and keyed_by_ticket else None
    return {"ticket_id": ticket, "correlation_id": headers.get("correlation_id")}
