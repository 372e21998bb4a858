"""`huying.sla.v1`: what the SLA clocks say, keyed by ticket id (quality budgets by service line)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime

from huying.events.base import Event, F, Severity


class ClockKind(StrEnum):
    """The SLA clocks a ticket can carry (DOMAIN.md)."""

    ACCEPTANCE = "acceptance"
    CONTACT = "contact"
    PROGRESS = "progress"
    RESTORE = "restore"
    ESCALATION_DIRECTOR = "escalation_director"
    ESCALATION_DEPUTY_GM = "escalation_deputy_gm"
    FEEDBACK = "feedback"
    WRITTEN_REPORT = "written_report"
    BACKFILL = "backfill"
    INTERNAL_PROGRESS = "internal_progress"  # seed 000 rule 4: a progress note every 30 min, every ticket
    INTERNAL_REPORT = "internal_report"  # seed 000 rule 10: the internal fault report, 2 working days, every fault
    REMEDIATION = "remediation"  # seed 000 rule 10: the remediation item when that report was late, 1 working day
    SEVERITY = "severity"  # seed 003: the severe mark, 30 min (non-diamond inter-city circuits: 8 h) of full outage
    FOLLOW_UP = "follow_up"  # seed 001 2)-(10): the follow-up call (回访) after closure; its breach is the reminder


class SlaEvent(Event):
    """Base of ticket-scoped SLA events."""

    ticket_id: str = F("Ticket id (the partition key).", "T-20260302-000123")
    clock: ClockKind = F("Which clock.", "restore")
    policy_version: str = F("Version of the SLA policy that set the deadline.", "2026.1")
    seq: int = F("Instance of the clock on this ticket (progress, feedback and reports recur).", 1, ge=1, default=1)
    subject: str | None = F(
        "What the instance is about, e.g. the team for a per-team acceptance clock.", "gz-access-ops", default=None
    )
    late_by_seconds: float | None = F(
        "Set when a timer fired after its due time (e.g. after downtime).", 0.0, default=None
    )

    def partition_key(self) -> bytes:
        return self.ticket_id.encode()


class SlaClockStarted(SlaEvent):
    type: Literal["SlaClockStarted"] = "SlaClockStarted"
    started_at: AwareDatetime = F("When the clock started.", "2026-03-02T01:12:30Z")
    deadline: AwareDatetime = F("When it is due.", "2026-03-02T03:12:30Z")
    provisional: bool = F(
        "Deadline uses a guessed calendar (year unknown to the working-day sources).", False, default=False
    )


class SlaDeadlineMoved(SlaEvent):
    type: Literal["SlaDeadlineMoved"] = "SlaDeadlineMoved"
    old_deadline: AwareDatetime | None = F("Previous deadline (none while paused).", "2026-03-02T03:12:30Z")
    new_deadline: AwareDatetime | None = F("New deadline (none while paused).", "2026-03-02T03:42:30Z")
    reason: Literal["paused", "resumed", "exclusion", "reopened", "tier_changed", "recomputed"] = F(
        "Why it moved (recomputed: an earlier alarm or a late, out-of-order event changed the start).", "resumed"
    )


class SlaWarning(SlaEvent):
    type: Literal["SlaWarning"] = "SlaWarning"
    deadline: AwareDatetime = F("When it is due.", "2026-03-02T03:12:30Z")
    used_ratio: float = F("Share of the allowed time used.", 0.8, ge=0)


_COUNTED = (
    "False when the resolution's cause category is not the operator's (seed 001 表72: \"该时限仅针对移动公司负责管理"
    '的设备引起的故障"): the verdict stands but does not count against the commitment or the quality budget.'
)


class SlaBreached(SlaEvent):
    type: Literal["SlaBreached"] = "SlaBreached"
    deadline: AwareDatetime = F("The deadline that passed.", "2026-03-02T03:12:30Z")
    retroactive: bool = F(
        "Deadline had already passed when the ticket was created (back-filled).", False, default=False
    )
    counted: bool = F(_COUNTED, True, default=True)


class SlaMet(SlaEvent):
    type: Literal["SlaMet"] = "SlaMet"
    deadline: AwareDatetime = F("The deadline that was kept.", "2026-03-02T03:12:30Z")
    stopped_at: AwareDatetime = F("When the clock stopped.", "2026-03-02T02:55:00Z")
    elapsed_seconds: float = F("Effective elapsed time (pauses and exclusions removed).", 6150.0, ge=0)
    counted: bool = F(_COUNTED, True, default=True)


class EscalationRaised(SlaEvent):
    type: Literal["EscalationRaised"] = "EscalationRaised"
    level: int = F("1 = director at 120 min, 2 = deputy GM at 180 min, 0 = immediate leadership notice.", 1, ge=0)
    audience: Literal["director", "deputy_gm", "leadership"] = F("Who must be told.", "director")


class ProgressUpdateDue(SlaEvent):
    type: Literal["ProgressUpdateDue"] = "ProgressUpdateDue"
    due_at: AwareDatetime = F("When the progress update to the customer is due.", "2026-03-02T01:45:00Z")
    sequence: int = F("1 for the first update, then 2, 3 …", 1, ge=1)


class TicketSeverityChanged(SlaEvent):
    """The fault passed the severe mark (seed 003): an important customer's service fully interrupted for more than 30
    minutes (a non-diamond customer's inter-city circuit: 8 hours), counted from the outage's start (report or
    alarm, whichever is first). Raised by sla-watch's timer when the mark passes, not when the ticket opens;
    dispatch records it on the ticket."""

    type: Literal["TicketSeverityChanged"] = "TicketSeverityChanged"
    severity: Severity = F("The severity from now on.", "severe", default=Severity.SEVERE)
    outage_started_at: AwareDatetime = F("When the outage started (report or alarm).", "2026-03-02T01:12:30Z")
    marked_at: AwareDatetime = F("When it passed the mark.", "2026-03-02T01:42:30Z")
    reason: str = F("Which rule.", "重要集团客户业务全阻超过30分钟")


class QualityMeasure(StrEnum):
    REPEAT_FAULTS = "repeat_faults"
    OUTAGE_HOURS = "outage_hours"


class _QualityBudget(Event):
    service_line_id: str = F("Service line (the partition key).", "L-440100-0001-01")
    year: int = F("Calendar year of the budget.", 2026)
    measure: QualityMeasure = F("repeat_faults or outage_hours.", "outage_hours")
    used: float = F("Amount used so far this year.", 5.2, ge=0)
    budget: float = F("Yearly budget for the line's tier.", 6.0, ge=0)

    def partition_key(self) -> bytes:
        return self.service_line_id.encode()


class QualityBudgetWarning(_QualityBudget):
    type: Literal["QualityBudgetWarning"] = "QualityBudgetWarning"


class QualityBudgetExceeded(_QualityBudget):
    type: Literal["QualityBudgetExceeded"] = "QualityBudgetExceeded"
