"""Timers and transitions → `huying.sla.v1` events, with the engine's deterministic ids.

A fired timer's event says what happened at its due time: `occurred_at` is the due time (so a re-fire is the
same fact with the same id), and `late_by_seconds` is set when it was fired noticeably later than that.
"""

from __future__ import annotations

from datetime import datetime

from huying.events import (
    EscalationRaised,
    ProgressUpdateDue,
    SlaBreached,
    SlaClockStarted,
    SlaDeadlineMoved,
    SlaMet,
    SlaWarning,
    TicketSeverityChanged,
)
from huying.events.sla import SlaEvent
from sla_watch.domain.severity import IMPORTANT_30_MIN, SEVERE_REASONS
from sla_watch.domain.timers import Timer, TimerKind
from sla_watch.domain.transitions import Change, Transition

PRODUCER = "sla-watch"


def lateness(timer: Timer, *, fired_at: datetime) -> float:
    """Seconds between the timer's due time and its firing (never negative)."""
    return max(0.0, (fired_at - timer.due_at).total_seconds())


def timer_event(timer: Timer, *, fired_at: datetime, warning_ratio: float | None, late_after: float) -> SlaEvent:
    """The event a timer turns into when it fires at `fired_at`; its event_id is the timer id."""
    late = lateness(timer, fired_at=fired_at)
    common = {
        "event_id": timer.timer_id,
        "occurred_at": timer.due_at,
        "producer": PRODUCER,
        "correlation_id": timer.ticket_id,
        "ticket_id": timer.ticket_id,
        "clock": timer.clock,
        "policy_version": timer.policy_version,
        "seq": timer.seq,
        "subject": timer.subject,
        "late_by_seconds": round(late, 3) if late > late_after else None,
    }
    if timer.kind is TimerKind.BREACH:
        return SlaBreached(**common, deadline=timer.deadline, retroactive=timer.retroactive)
    if timer.kind is TimerKind.WARNING:
        return SlaWarning(**common, deadline=timer.deadline, used_ratio=warning_ratio or 0.0)
    if timer.kind is TimerKind.PROGRESS_DUE:
        return ProgressUpdateDue(**common, due_at=timer.deadline, sequence=timer.seq)
    if timer.kind is TimerKind.START:
        return SlaClockStarted(**common, started_at=timer.started_at or timer.due_at, deadline=timer.deadline)
    if timer.kind is TimerKind.SEVERE_MARK:
        return TicketSeverityChanged(
            **common,
            outage_started_at=timer.started_at or timer.deadline,
            marked_at=timer.deadline,
            reason=SEVERE_REASONS.get(timer.subject or "", SEVERE_REASONS[IMPORTANT_30_MIN]),
        )
    level, audience = timer.escalation or (0, "leadership")
    return EscalationRaised(**common, level=level, audience=audience)


def transition_event(tr: Transition, *, at: datetime) -> SlaEvent | None:
    """The event of a clock's change caused by an input of `at`; None for a cancelled clock (no such event)."""
    common = {
        "event_id": tr.event_id,
        "producer": PRODUCER,
        "correlation_id": tr.ticket_id,
        "ticket_id": tr.ticket_id,
        "clock": tr.clock,
        "policy_version": tr.policy_version,
        "seq": tr.seq,
        "subject": tr.subject,
    }
    if tr.change is Change.STARTED and tr.deadline is not None:
        return SlaClockStarted(
            **common,
            occurred_at=tr.started_at,
            started_at=tr.started_at,
            deadline=tr.deadline,
            provisional=tr.provisional,
        )
    if tr.change is Change.MOVED:
        return SlaDeadlineMoved(
            **common,
            occurred_at=at,
            old_deadline=tr.old_deadline,
            new_deadline=tr.deadline,
            reason=tr.reason or "recomputed",
        )
    if tr.change is Change.MET and tr.deadline is not None and tr.stopped_at is not None:
        return SlaMet(
            **common,
            occurred_at=tr.stopped_at,
            deadline=tr.deadline,
            stopped_at=tr.stopped_at,
            elapsed_seconds=tr.elapsed_s or 0.0,
            counted=tr.counted,
        )
    if tr.change is Change.BREACHED and tr.deadline is not None:
        return SlaBreached(
            **common, occurred_at=tr.deadline, deadline=tr.deadline, retroactive=tr.retroactive, counted=tr.counted
        )
    return None
