"""Every message on Huying's topics, as pydantic models: the contract all services share."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from huying.events.base import (
    OPERATOR_CAUSES,
    AssuranceLevel,
    Category,
    CauseCategory,
    Channel,
    CustomerGrade,
    Event,
    Scope,
    Severity,
    Tier,
    utc_now,
)
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
    TicketSeverityChanged,
)
from huying.events.tickets import (
    CustomerContacted,
    DutyNotificationRequested,
    ExclusionKind,
    ExclusionRecorded,
    FaultReportRequested,
    FaultReportSubmitted,
    IncidentOpened,
    LeaderInformed,
    ProgressNoted,
    QualityChecked,
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
    | SatisfactionRecorded
    | DutyNotificationRequested
    | LeaderInformed
    | QualityChecked,
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
    | QualityBudgetExceeded
    | TicketSeverityChanged,
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
    "AssuranceLevel",
    "Category",
    "CauseCategory",
    "Channel",
    "ClockKind",
    "Contact",
    "CrmMessage",
    "CustomerContacted",
    "CustomerGrade",
    "CustomerUpserted",
    "DutyNotificationRequested",
    "EscalationRaised",
    "Event",
    "ExclusionKind",
    "ExclusionRecorded",
    "FaultReportRequested",
    "FaultReportSubmitted",
    "IncidentOpened",
    "IntakeMessage",
    "LeaderInformed",
    "NotificationFailed",
    "NotificationMessage",
    "NotificationSent",
    "ProgressNoted",
    "ProgressUpdateDue",
    "QualityBudgetExceeded",
    "QualityBudgetWarning",
    "QualityChecked",
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
    "TicketSeverityChanged",
    "TicketSuspended",
    "TicketTierChanged",
    "TicketTransferred",
    "TicketVerified",
    "Tier",
    "WorkItemResolved",
    "utc_now",
]
