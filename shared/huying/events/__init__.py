"""Every message on Huying's topics, as pydantic models: the contract all services share."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from huying.events.base import OPERATOR_CAUSES, Category, CauseCategory, Channel, Event, Scope, Severity, Tier, utc_now
from huying.events.crm import CustomerUpserted, ServiceLineUpserted
from huying.events.intake import AlarmCleared, AlarmRaised, Contact, ReportReceived
from huying.events.notifications import NotificationFailed, NotificationSent
from huying.events.sla import (
    ClockKind,
    EscalationRaised,
    ProgressUpdateDue,
    QualityBudgetExceeded,
    QualityBudgetWarning,
    QualityMeasure,
    SlaBreached,
    SlaClockStarted,
    SlaDeadlineMoved,
    SlaMet,
    SlaWarning,
)
from huying.events.tickets import (
    CustomerContacted,
    ExclusionKind,
    ExclusionRecorded,
    FaultReportRequested,
    FaultReportSubmitted,
    IncidentOpened,
    ProgressNoted,
    ReportLinked,
    RestorationConfirmed,
    SatisfactionRecorded,
    TicketAccepted,
    TicketCancelled,
    TicketClosed,
    TicketDispatched,
    TicketEvent,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketResumed,
    TicketSuspended,
    TicketTierChanged,
    TicketTransferred,
    TicketVerified,
    WorkItemResolved,
)

IntakeMessage = ReportReceived
AlarmMessage = Annotated[AlarmRaised | AlarmCleared, Field(discriminator="type")]
CrmMessage = Annotated[CustomerUpserted | ServiceLineUpserted, Field(discriminator="type")]
TicketMessage = Annotated[
    TicketOpened
    | IncidentOpened
    | ReportLinked
    | TicketVerified
    | TicketTierChanged
    | TicketDispatched
    | TicketAccepted
    | CustomerContacted
    | ProgressNoted
    | TicketTransferred
    | TicketSuspended
    | TicketResumed
    | ExclusionRecorded
    | TicketResolved
    | WorkItemResolved
    | RestorationConfirmed
    | TicketClosed
    | TicketReopened
    | TicketCancelled
    | FaultReportRequested
    | FaultReportSubmitted
    | SatisfactionRecorded,
    Field(discriminator="type"),
]
SlaMessage = Annotated[
    SlaClockStarted
    | SlaDeadlineMoved
    | SlaWarning
    | SlaBreached
    | SlaMet
    | EscalationRaised
    | ProgressUpdateDue
    | QualityBudgetWarning
    | QualityBudgetExceeded,
    Field(discriminator="type"),
]
NotificationMessage = Annotated[NotificationSent | NotificationFailed, Field(discriminator="type")]

ADAPTERS: dict[str, TypeAdapter] = {
    "intake": TypeAdapter(IntakeMessage),
    "alarms": TypeAdapter(AlarmMessage),
    "crm": TypeAdapter(CrmMessage),
    "tickets": TypeAdapter(TicketMessage),
    "sla": TypeAdapter(SlaMessage),
    "notifications": TypeAdapter(NotificationMessage),
}

__all__ = [
    "ADAPTERS",
    "OPERATOR_CAUSES",
    "AlarmCleared",
    "AlarmMessage",
    "AlarmRaised",
    "Category",
    "CauseCategory",
    "Channel",
    "ClockKind",
    "Contact",
    "CrmMessage",
    "CustomerContacted",
    "CustomerUpserted",
    "EscalationRaised",
    "Event",
    "ExclusionKind",
    "ExclusionRecorded",
    "FaultReportRequested",
    "FaultReportSubmitted",
    "IncidentOpened",
    "IntakeMessage",
    "NotificationFailed",
    "NotificationMessage",
    "NotificationSent",
    "ProgressNoted",
    "ProgressUpdateDue",
    "QualityBudgetExceeded",
    "QualityBudgetWarning",
    "QualityMeasure",
    "ReportLinked",
    "ReportReceived",
    "RestorationConfirmed",
    "SatisfactionRecorded",
    "Scope",
    "ServiceLineUpserted",
    "Severity",
    "SlaBreached",
    "SlaClockStarted",
    "SlaDeadlineMoved",
    "SlaMessage",
    "SlaMet",
    "SlaWarning",
    "TicketAccepted",
    "TicketCancelled",
    "TicketClosed",
    "TicketDispatched",
    "TicketEvent",
    "TicketMessage",
    "TicketOpened",
    "TicketReopened",
    "TicketResolved",
    "TicketResumed",
    "TicketSuspended",
    "TicketTierChanged",
    "TicketTransferred",
    "TicketVerified",
    "Tier",
    "WorkItemResolved",
    "utc_now",
]
