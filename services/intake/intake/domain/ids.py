"""Deterministic ids: the same report always maps to the same ticket, incident and event ids, so duplicates,
concurrent duplicates and retries after a crash converge on one ticket and downstream de-duplicates."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("2f7f3d52-6a0e-4c35-9d0a-5b7c1e4e8a61")


def _digest(text: str) -> str:
    return uuid.uuid5(NAMESPACE, text).hex[:16]


def ticket_id_for(report_key: str) -> str:
    """The ticket a report opens, if it opens one ("source_system:external_id" → "T-…")."""
    return f"T-{_digest('ticket|' + report_key)}"


def incident_id_for(report_key: str) -> str:
    """The incident the report that reached the threshold opens ("I-…")."""
    return f"I-{_digest('incident|' + report_key)}"


def is_incident_id(ticket_id: str) -> bool:
    """Whether a ticket id is an incident's (`incident_id_for`)."""
    return ticket_id.startswith("I-")


def event_id_for(report_key: str, event_type: str, ticket_id: str) -> uuid.UUID:
    """One event id per (report, event type, ticket): re-emitting after a crash produces the same id."""
    return uuid.uuid5(NAMESPACE, f"{report_key}|{event_type}|{ticket_id}")
