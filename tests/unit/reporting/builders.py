"""Events of a ticket's life, as the topics carry them, for reporting's tests (deterministic ids: uuid5 of a name, so
the same builder call is the same event, as a redelivery is)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from huying.events import (
    Event,
    ExclusionRecorded,
    NotificationFailed,
    NotificationSent,
    SatisfactionRecorded,
    SlaBreached,
    SlaClockStarted,
    SlaDeadlineMoved,
    SlaMet,
    TicketAccepted,
    TicketCancelled,
    TicketClosed,
    TicketDispatched,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketResumed,
    TicketSeverityChanged,
    TicketSuspended,
)
from reporting.domain.entries import entry_of

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
NS = uuid.UUID("5d0c6a3e-6f1f-4f38-9b2a-4d1b2c3d4e5f")


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def _id(*parts: Any) -> uuid.UUID:
    return uuid.uuid5(NS, "|".join(map(str, parts)))


def opened(ticket_id: str, *, at: float = 0, **overrides: Any) -> TicketOpened:
    fields: dict[str, Any] = {
        "event_id": _id(ticket_id, "opened"), "ticket_id": ticket_id, "source_system": "10086-cc",
        "external_id": f"CC-{ticket_id}", "channel": "hotline", "customer_id": "C-01", "service_line_id": "L-01",
        "tier": "gold", "scope": "intra_city", "category": "access", "city": "广州", "reported_at": minutes(at),
        "occurred_at": minutes(at), "contact": {"name": "王伟", "phone": "13800138000"}, "description": "专线中断",
    }  # fmt: skip
    return TicketOpened(**{**fields, **overrides})


def dispatched(ticket_id: str, *teams: str, at: float = 1) -> TicketDispatched:
    return TicketDispatched(event_id=_id(ticket_id, "dispatched", *teams), ticket_id=ticket_id,
                            teams=list(teams or ["gz-access-ops"]), occurred_at=minutes(at))  # fmt: skip


def accepted(ticket_id: str, team: str = "gz-access-ops", *, at: float = 5) -> TicketAccepted:
    return TicketAccepted(event_id=_id(ticket_id, "accepted", team), ticket_id=ticket_id, team=team,
                          occurred_at=minutes(at))  # fmt: skip


def suspended(ticket_id: str, *, at: float) -> TicketSuspended:
    return TicketSuspended(event_id=_id(ticket_id, "suspended", at), ticket_id=ticket_id, reason="客户机房断电",
                           consent_by="王伟", occurred_at=minutes(at))  # fmt: skip


def resumed(ticket_id: str, *, at: float) -> TicketResumed:
    return TicketResumed(event_id=_id(ticket_id, "resumed", at), ticket_id=ticket_id, occurred_at=minutes(at))


def excluded(ticket_id: str, start: float, end: float, *, kind: str = "interconnection") -> ExclusionRecorded:
    return ExclusionRecorded(event_id=_id(ticket_id, "excluded", start, end), ticket_id=ticket_id, kind=kind,
                             start=minutes(start), end=minutes(end), reason="对端运营商传输故障",
                             occurred_at=minutes(end))  # fmt: skip


def resolved(ticket_id: str, *, restored: float, cause: str | None = "operator_equipment", at: float | None = None):
    return TicketResolved(event_id=_id(ticket_id, "resolved", restored), ticket_id=ticket_id, cause="光缆中断",
                          cause_category=cause, restored_at=minutes(restored),
                          occurred_at=minutes(restored if at is None else at))  # fmt: skip


def reopened(ticket_id: str, *, at: float) -> TicketReopened:
    return TicketReopened(event_id=_id(ticket_id, "reopened", at), ticket_id=ticket_id, reason="仍无法访问",
                          occurred_at=minutes(at))  # fmt: skip


def closed(ticket_id: str, *, at: float) -> TicketClosed:
    return TicketClosed(event_id=_id(ticket_id, "closed"), ticket_id=ticket_id, occurred_at=minutes(at))


def cancelled(ticket_id: str, *, at: float) -> TicketCancelled:
    return TicketCancelled(event_id=_id(ticket_id, "cancelled"), ticket_id=ticket_id, reason="重复报障",
                           occurred_at=minutes(at))  # fmt: skip


def satisfaction(ticket_id: str, satisfied: bool, *, at: float) -> SatisfactionRecorded:
    return SatisfactionRecorded(event_id=_id(ticket_id, "satisfaction"), ticket_id=ticket_id, satisfied=satisfied,
                                comment="处理及时", called_by="cs-01", method="phone", reached="王伟",
                                occurred_at=minutes(at))  # fmt: skip


def _sla(ticket_id: str, clock: str, seq: int, subject: str | None) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "clock": clock, "seq": seq, "subject": subject, "policy_version": "2026.1",
            "producer": "sla-watch"}  # fmt: skip


def started(ticket_id: str, clock: str, *, at: float, due: float, seq: int = 1, subject: str | None = None):
    return SlaClockStarted(
        event_id=_id(ticket_id, clock, seq, subject, "started"),
        started_at=minutes(at),
        deadline=minutes(due),
        occurred_at=minutes(at),
        **_sla(ticket_id, clock, seq, subject),
    )


def moved(ticket_id: str, clock: str, *, at: float, old: float | None, new: float | None, reason: str = "resumed",
          seq: int = 1, subject: str | None = None) -> SlaDeadlineMoved:  # fmt: skip
    return SlaDeadlineMoved(
        event_id=_id(ticket_id, clock, seq, subject, "moved", at),
        old_deadline=None if old is None else minutes(old),
        new_deadline=None if new is None else minutes(new),
        reason=reason,
        occurred_at=minutes(at),
        **_sla(ticket_id, clock, seq, subject),
    )


def met(ticket_id: str, clock: str, *, at: float, due: float, seq: int = 1, subject: str | None = None,
        counted: bool = True) -> SlaMet:  # fmt: skip
    return SlaMet(event_id=_id(ticket_id, clock, seq, subject, "met"), deadline=minutes(due), stopped_at=minutes(at),
                  elapsed_seconds=at * 60, counted=counted, occurred_at=minutes(at),
                  **_sla(ticket_id, clock, seq, subject))  # fmt: skip


def breached(ticket_id: str, clock: str, *, due: float, seq: int = 1, subject: str | None = None,
             counted: bool = True) -> SlaBreached:  # fmt: skip
    return SlaBreached(
        event_id=_id(ticket_id, clock, seq, subject, "breached", counted),
        deadline=minutes(due),
        counted=counted,
        occurred_at=minutes(due),
        **_sla(ticket_id, clock, seq, subject),
    )


def severe(ticket_id: str, *, at: float = 30) -> TicketSeverityChanged:
    return TicketSeverityChanged(event_id=_id(ticket_id, "severe"), outage_started_at=T0, marked_at=minutes(at),
                                 reason="重要集团客户业务全阻超过30分钟", occurred_at=minutes(at),
                                 **_sla(ticket_id, "severity", 1, None))  # fmt: skip


def sent(notification_id: str, ticket_id: str, *, at: float, attempts: int = 1) -> NotificationSent:
    return NotificationSent(event_id=_id(notification_id, "sent", attempts), notification_id=notification_id,
                            dedup_key=f"{ticket_id}:{notification_id}", ticket_id=ticket_id, channel="sms",
                            recipient_role="account_manager", attempts=attempts, occurred_at=minutes(at))  # fmt: skip


def failed(notification_id: str, ticket_id: str, *, at: float, attempts: int = 1) -> NotificationFailed:
    return NotificationFailed(event_id=_id(notification_id, "failed", attempts), notification_id=notification_id,
                              dedup_key=f"{ticket_id}:{notification_id}", ticket_id=ticket_id, channel="sms",
                              recipient_role="account_manager", attempts=attempts, error="SMS gateway 503",
                              occurred_at=minutes(at))  # fmt: skip


def entries(*events: Event) -> list[dict[str, Any]]:
    return [entry_of(e) for e in events]


def gold_fault(ticket_id: str = "T-1", *, cause: str | None = "operator_equipment") -> list[Event]:
    """A gold fault: accepted in time, contact breached, suspended 20 min, 30 min of interconnection, restored at
    100 min (restore met), closed and rated satisfied."""
    return [
        opened(ticket_id), dispatched(ticket_id),
        started(ticket_id, "acceptance", at=1, due=11, subject="gz-access-ops"), accepted(ticket_id),
        met(ticket_id, "acceptance", at=5, due=11, subject="gz-access-ops"),
        started(ticket_id, "contact", at=1, due=16), breached(ticket_id, "contact", due=16),
        started(ticket_id, "restore", at=0, due=120),
        suspended(ticket_id, at=20), resumed(ticket_id, at=40), excluded(ticket_id, 50, 80),
        resolved(ticket_id, restored=100, cause=cause),
        met(ticket_id, "restore", at=100, due=170, counted=cause in (None, "operator_equipment", "operator_work")),
        closed(ticket_id, at=130), satisfaction(ticket_id, True, at=200),
    ]  # fmt: skip
