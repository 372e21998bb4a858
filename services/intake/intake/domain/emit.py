"""What intake tells the world: the outcome of an arrival, and the events on `huying.tickets.v1` it causes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from huying.events import (
    Category,
    IncidentOpened,
    ReportLinked,
    Severity,
    TicketOpened,
    TicketVerified,
    Tier,
)
from intake.domain.correlation import Incident
from intake.domain.ids import event_id_for
from intake.domain.model import Arrival, Rules, Snapshot
from intake.domain.rules import TERMINAL_ONLY, backfill_due

PRODUCER = "intake"
Link = Literal["same_line", "incident_child", "backfill", "duplicate_customer"]


@dataclass(frozen=True)
class Outcome:
    """What became of one arrival (stored, and returned to the source system)."""

    report_id: str
    status: Literal["opened", "linked", "recorded"]
    ticket_id: str | None = None  # the ticket opened, or the ticket/incident linked to
    link: Link | None = None
    parent_incident_id: str | None = None
    incident_opened: str | None = None
    verified: bool | None = None
    reason: str | None = None  # why nothing was opened, or a note
    duplicate: bool = False
    reported_late: bool = False  # its own time is far behind its receipt (rules.reported_late)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


def _envelope(arrival: Arrival, event_type: str, ticket_id: str, now: datetime) -> dict[str, Any]:
    return {
        "event_id": event_id_for(arrival.key, event_type, ticket_id),
        "occurred_at": now,
        "producer": PRODUCER,
        "correlation_id": arrival.correlation_id or arrival.key,
        "ticket_id": ticket_id,
    }


def ticket_opened(
    arrival: Arrival, snapshot: Snapshot, *, ticket_id: str, parent: str | None, rules: Rules, now: datetime
) -> TicketOpened:
    """The ticket with its enriched snapshot; reported_at and alarm_at give the restore clock its start."""
    severe = snapshot.severe or parent is not None
    return TicketOpened(
        **_envelope(arrival, "TicketOpened", ticket_id, now),
        source_system=arrival.source_system,
        external_id=arrival.external_id,
        channel=arrival.channel,
        customer_id=snapshot.customer_id,
        service_line_id=snapshot.service_line_id,
        tier=snapshot.tier,
        scope=snapshot.scope,
        category=snapshot.category,
        city=snapshot.city,
        customer_grade=snapshot.customer_grade,
        assurance_level=snapshot.assurance_level,
        product_family=snapshot.product_family,
        reported_at=arrival.reported_at,
        alarm_at=arrival.reported_at if arrival.is_alarm else None,
        severity=Severity.SEVERE if severe else Severity.NORMAL,
        full_outage=snapshot.full_outage,
        leadership_notice=snapshot.leadership_notice,
        core_network=snapshot.core_network,
        parent_incident_id=parent,
        backfill_due=backfill_due(arrival, rules),
        verified=snapshot.verified,
        terminal_only=arrival.flag(TERMINAL_ONLY),
        description=arrival.description,
        contact=arrival.contact,
    )


def report_linked(arrival: Arrival, *, ticket_id: str, link: Link, now: datetime) -> ReportLinked:
    """A further report on an existing ticket; its reported_at may move the restore start earlier (an alarm)
    or stop the back-fill clock (link="backfill")."""
    return ReportLinked(
        **_envelope(arrival, "ReportLinked", ticket_id, now),
        source_system=arrival.source_system,
        external_id=arrival.external_id,
        channel=arrival.channel,
        reported_at=arrival.reported_at,
        link=link,
    )


def incident_opened(
    arrival: Arrival,
    incident: Incident,
    *,
    city: str,
    category: Category,
    service: str,
    rules: Rules,
    now: datetime,
) -> IncidentOpened:
    """The mass outage (seed 003 一、6), severe from the report that made the third ordinary customer."""
    reporters = rules.incident_threshold
    minutes = int(rules.incident_window.total_seconds() // 60)
    return IncidentOpened(
        **_envelope(arrival, "IncidentOpened", incident.incident_id, now),
        category=category,
        city=city,
        reported_at=incident.first_at,
        severity=Severity.SEVERE,
        reason=f"{reporters} or more ordinary customers reported a full outage of {service} in {city} "
        f"within {minutes} min",
        child_ticket_ids=list(incident.children),
    )


def ticket_verified(
    *, ticket_id: str, report_key: str, snapshot: Snapshot, previous_tier: Tier, now: datetime
) -> TicketVerified:
    """The upgrade of an unverified ticket once its CRM data is known (one per ticket: deterministic id)."""
    return TicketVerified(
        event_id=event_id_for(report_key, "TicketVerified", ticket_id),
        occurred_at=now,
        producer=PRODUCER,
        correlation_id=report_key,
        ticket_id=ticket_id,
        customer_id=snapshot.customer_id,
        service_line_id=snapshot.service_line_id,
        tier=snapshot.tier,
        scope=snapshot.scope,
        category=snapshot.category,
        city=snapshot.city,
        previous_tier=previous_tier,
        customer_grade=snapshot.customer_grade,
        assurance_level=snapshot.assurance_level,
        product_family=snapshot.product_family,
    )
