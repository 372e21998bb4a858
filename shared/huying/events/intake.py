"""`huying.intake.v1` and `huying.alarms.v1`: what source systems and monitoring send in."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, field_validator

from huying.events.base import Category, Channel, Event, F


class Contact(BaseModel):
    """A person to reach about a ticket (personal data: masked for roles that don't need it)."""

    name: str = F("Contact's name.", "王伟")
    phone: str | None = F("Phone number, E.164 or national format.", "13800138000", default=None)
    email: str | None = F("Email address.", "wangwei@example.com", default=None)
    role: str | None = F("Role at the customer, e.g. IT manager.", "IT运维", default=None)


class ReportReceived(Event):
    """A fault or complaint report from any channel, as the source system sent it."""

    type: Literal["ReportReceived"] = "ReportReceived"
    channel: Channel = F("Intake channel.", "hotline")
    source_system: str = F("System that took the report; with external_id it identifies the report.", "10086-cc")
    external_id: str = F("The report's id in the source system.", "CC20260302-000123", min_length=1)
    customer_id: str | None = F("CRM customer id, if known.", "C-440100-0001", default=None)
    service_line_id: str | None = F("CRM service line id, if known.", "L-440100-0001-01", default=None)
    contact: Contact | None = F(
        "Who reported and how to reach them.", {"name": "王伟", "phone": "13800138000"}, default=None
    )
    category_hint: Category | None = F("Category the reporter or agent suggested.", "access", default=None)
    description: str = F("Free-text description of the problem.", "专线中断，无法访问互联网", max_length=4000)
    reported_at: AwareDatetime = F(
        "When the customer reported (the call time for the green channel).", "2026-03-02T01:15:00Z"
    )
    attributes: dict[str, Any] = F(
        "Free attributes from the source system.", {"caller_city": "广州"}, default_factory=dict
    )

    @field_validator("attributes")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = attributes_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def partition_key(self) -> bytes:
        return f"{self.source_system}:{self.external_id}".encode()


ATTRIBUTE_DEPTH = 4
ATTRIBUTE_STRING = 2000
ATTRIBUTE_ITEMS = 200


def attributes_problem(value: Any, path: str = "attributes", depth: int = 0) -> str | None:
    """Why free attributes cannot be stored as they are (MongoDB field names may not contain '.' nor start with '$';
    no NaN or infinity, no array directly inside an array, bounded depth, length and size), or None."""
    if depth > ATTRIBUTE_DEPTH:
        return f"{path}: nested deeper than {ATTRIBUTE_DEPTH} levels"
    if isinstance(value, dict):
        if len(value) > ATTRIBUTE_ITEMS:
            return f"{path}: more than {ATTRIBUTE_ITEMS} keys"
        for key, item in value.items():
            if not isinstance(key, str) or not key or "." in key or key.startswith("$") or "\x00" in key:
                return f"{path}: key {key!r} is not storable (empty, contains '.', starts with '$' or holds NUL)"
            if problem := attributes_problem(item, f"{path}.{key}", depth + 1):
                return problem
    elif isinstance(value, list):
        if len(value) > ATTRIBUTE_ITEMS:
            return f"{path}: more than {ATTRIBUTE_ITEMS} items"
        for n, item in enumerate(value):
            if isinstance(item, list):
                return f"{path}[{n}]: an array directly inside an array"
            if problem := attributes_problem(item, f"{path}[{n}]", depth + 1):
                return problem
    elif isinstance(value, float) and not math.isfinite(value):
        return f"{path}: {value} is not a number a document can hold"
    elif isinstance(value, str) and len(value) > ATTRIBUTE_STRING:
        return f"{path}: longer than {ATTRIBUTE_STRING} characters"
    return None


class AlarmRaised(Event):
    """A monitoring (NMS) alarm on a resource or service line."""

    type: Literal["AlarmRaised"] = "AlarmRaised"
    alarm_id: str = F("The alarm's id in the NMS.", "NMS-20260302-778812")
    service_line_id: str | None = F("Affected service line, if the NMS knows it.", "L-440100-0001-01", default=None)
    resource: str = F("Network resource raising the alarm.", "GZ-OLT-0231/PON3")
    city: str | None = F("City of the resource.", "广州", default=None)
    severity: Literal["critical", "major", "minor", "warning"] = F("NMS alarm severity.", "critical")
    raised_at: AwareDatetime = F("When the NMS raised the alarm.", "2026-03-02T01:12:30Z")
    description: str = F("Alarm text.", "LOS on PON port", default="")

    def partition_key(self) -> bytes:
        return (self.service_line_id or self.resource).encode()


class AlarmCleared(Event):
    """A monitoring alarm has cleared."""

    type: Literal["AlarmCleared"] = "AlarmCleared"
    alarm_id: str = F("The alarm's id in the NMS.", "NMS-20260302-778812")
    service_line_id: str | None = F("Affected service line, if known.", "L-440100-0001-01", default=None)
    resource: str = F("Network resource.", "GZ-OLT-0231/PON3")
    cleared_at: AwareDatetime = F("When the alarm cleared.", "2026-03-02T02:40:00Z")

    def partition_key(self) -> bytes:
        return (self.service_line_id or self.resource).encode()
