"""Who may do what: operator roles, team membership, and masking of customers' personal data."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    AGENT = "agent"
    TEAM_LEAD = "team_lead"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Principal(BaseModel):
    """An authenticated operator (from a signed token), or the service itself for automatic actions."""

    model_config = ConfigDict(frozen=True, use_enum_values=True)

    sub: str = Field(min_length=1, description="Operator id.", examples=["op-gz-017"])
    role: Role = Field(description="agent, team_lead, supervisor or admin.", examples=["agent"])
    teams: list[str] = Field(default_factory=list, description="Teams the operator belongs to.")
    name: str = ""

    def is_role(self, *roles: Role) -> bool:
        return self.role in roles

    def member_of(self, team: str) -> bool:
        return team in self.teams


SYSTEM = Principal(sub="dispatch", role=Role.ADMIN, name="dispatch service")


class Forbidden(Exception):
    """The operator may not do this (HTTP 403)."""


def can_see_contacts(principal: Principal, open_teams: list[str], customer_service_teams: list[str]) -> bool:
    """Least privilege: only the people who must call the customer see phone numbers and emails —
    members of a team working the ticket, and customer service. Supervisors and admins see them masked."""
    if principal.is_role(Role.SUPERVISOR, Role.ADMIN):
        return False
    return any(principal.member_of(t) for t in [*open_teams, *customer_service_teams])


def can_read(principal: Principal, teams: list[str], customer_service_teams: list[str]) -> bool:
    """Agents and team leads read the tickets of their own teams (and customer service reads all)."""
    if principal.is_role(Role.SUPERVISOR, Role.ADMIN):
        return True
    return any(principal.member_of(t) for t in [*teams, *customer_service_teams])


def mask_phone(phone: str) -> str:
    """13800138000 → 138****8000 (keeps the first 3 and last 4 digits, as telecom operators print them)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_email(email: str) -> str:
    """wangwei@example.com → w***@example.com."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def masked(value: Any) -> Any:
    """A copy of a document with every `phone` and `email` field masked, at any depth."""
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            leaf = str(key).rsplit("/", 1)[-1]  # history snapshots use path keys, e.g. "contact/phone"
            if leaf == "phone" and isinstance(inner, str):
                out[key] = mask_phone(inner)
            elif leaf == "email" and isinstance(inner, str):
                out[key] = mask_email(inner)
            else:
                out[key] = masked(inner)
        return out
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value
