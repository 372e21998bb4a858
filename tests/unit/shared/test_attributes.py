"""Free attributes of a report are refused at the edge when a document store could not hold them (issue 11: they
used to pass validation and fail at the database, a 500 that stranded good reports of the same batch)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from huying.events import ReportReceived

pytestmark = pytest.mark.unit


def report(attributes: object) -> ReportReceived:
    return ReportReceived(
        channel="hotline", source_system="cc", external_id="1", description="断", reported_at="2026-03-02T01:15:00Z",
        attributes=attributes,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("attributes", "says"),
    [
        ({"caller.city": "广州"}, "'caller.city'"),
        ({"$where": 1}, "'$where'"),
        ({"": 1}, "''"),
        ({"nul\x00key": 1}, "NUL"),
        ({"outer": {"in.ner": 1}}, "attributes.outer"),
        ({"x": float("nan")}, "nan"),
        ({"x": [1, float("inf")]}, "attributes.x[1]"),
        ({"x": [[1, 2]]}, "array directly inside an array"),
        ({"x": "长" * 2001}, "longer than"),
        ({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}, "deeper"),
        ({f"k{n}": n for n in range(201)}, "more than 200 keys"),
    ],
)
def test_unstorable_attributes_are_refused_with_the_path_and_reason(attributes: object, says: str) -> None:
    with pytest.raises(ValidationError) as raised:
        report(attributes)
    [error] = raised.value.errors()
    assert error["loc"] == ("attributes",) and says in error["msg"]


def test_ordinary_attributes_pass_unchanged() -> None:
    attributes = {
        "caller_city": "广州",
        "tags": ["vip", "line-down"],
        "hops": [{"node": "GZ-OLT-1", "ms": 3.5}],
        "n": 2,
    }
    assert report(attributes).attributes == attributes
