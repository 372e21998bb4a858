"""JSON log lines carry the ticket and correlation ids of the record being handled."""

from __future__ import annotations

import json
import logging

import pytest

from huying.logging import JsonFormatter, ids_of_record, log_context

pytestmark = pytest.mark.unit


def record(msg: str = "handled") -> logging.LogRecord:
    return logging.LogRecord("huying.test", logging.INFO, __file__, 1, msg, None, None)


def test_a_line_is_one_json_object_with_service_level_and_message() -> None:
    line = json.loads(JsonFormatter("intake").format(record("受理 ok")))
    assert (line["service"], line["level"], line["msg"]) == ("intake", "info", "受理 ok")
    assert "ticket_id" not in line and "correlation_id" not in line


def test_ids_set_for_a_block_appear_on_its_lines_and_not_after() -> None:
    formatter = JsonFormatter("dispatch")
    with log_context(ticket_id="T-1", correlation_id="rpt-9"):
        inside = json.loads(formatter.format(record()))
    after = json.loads(formatter.format(record()))
    assert (inside["ticket_id"], inside["correlation_id"]) == ("T-1", "rpt-9")
    assert "ticket_id" not in after


@pytest.mark.parametrize(
    ("topic", "expected_ticket"),
    [
        ("huying.tickets.v1", "T-7"),
        ("t1.huying.sla.v1", "T-7"),
        ("staging-huying.tickets.v1", "T-7"),
        ("huying.crm.v1", None),
        ("huying.alarms.v1", None),
    ],
)
def test_only_ticket_keyed_topics_give_a_ticket_id(topic: str, expected_ticket: str | None) -> None:
    ids = ids_of_record(topic, b"T-7", {"correlation_id": "c-1"})
    assert ids == {"ticket_id": expected_ticket, "correlation_id": "c-1"}


def test_quality_budget_events_are_keyed_by_line_not_ticket() -> None:
    ids = ids_of_record("huying.sla.v1", b"L-1", {"type": "QualityBudgetExceeded"})
    assert ids["ticket_id"] is None
