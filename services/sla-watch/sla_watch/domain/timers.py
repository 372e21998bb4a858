"""Clock states → pending timers: what must fire when, each with a deterministic id.

sla-watch stores the returned timers by id (insert-if-absent, so a fired timer never fires twice), deletes
stored unfired timers that are no longer returned (the deadline moved or the clock stopped), and turns a fired
timer into one `huying.sla.v1` event whose event_id is the timer id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from huying.events import ClockKind
from sla_watch.domain.clocks import ANNOUNCED_AT_START, ClockState, TicketSla

# Fixed forever: changing it would change every derived event id and break de-duplication downstream.
SLA_NAMESPACE = uuid.UUID("5d0c3c0e-7b0f-5a7e-9a51-4875796e6731")


class TimerKind(StrEnum):
    """What a timer turns into: SlaWarning, SlaBreached, EscalationRaised (levels 0–2), ProgressUpdateDue,
    SlaClockStarted (a clock announced at its start) or TicketSeverityChanged."""

    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"
    LEADERSHIP_NOTICE = "leadership_notice"
    PROGRESS_DUE = "progress_due"
    START = "start"  # SlaClockStarted of a clock announced when it starts (the remediation item)
    SEVERE_MARK = "severe_mark"  # TicketSeverityChanged: the fault passed the severe mark


ESCALATION_LEVELS = {
    ClockKind.ESCALATION_DIRECTOR: (1, "director"),
    ClockKind.ESCALATION_DEPUTY_GM: (2, "deputy_gm"),
    ClockKind.RESTORE: (0, "leadership"),  # the immediate notice rides on the restore clock
}


def sla_event_id(ticket_id: str, clock: ClockKind, seq: int, kind: str, at: datetime | None) -> uuid.UUID:
    """uuid5 of (ticket, clock, instance, kind, deadline): the same fact always gets the same id."""
    stamp = "paused" if at is None else at.isoformat()
    return uuid.uuid5(SLA_NAMESPACE, f"{ticket_id}|{clock.value}|{seq}|{kind}|{stamp}")


@dataclass(frozen=True, slots=True)
class Timer:
    """One thing to do at `due_at`: warn, breach, escalate, remind of a progress update, notify leadership."""

    timer_id: uuid.UUID
    ticket_id: str
    clock: ClockKind
    seq: int
    kind: TimerKind
    due_at: datetime
    deadline: datetime
    policy_version: str
    retroactive: bool = False  # due before the ticket existed: fire once, marked as such
    subject: str | None = None  # the team, for acceptance clocks (SlaEvent.subject)
    started_at: datetime | None = None  # the clock's start, for START and SEVERE_MARK timers

    @property
    def escalation(self) -> tuple[int, str] | None:
        """(level, audience) for EscalationRaised timers."""
        if self.kind in (TimerKind.ESCALATION, TimerKind.LEADERSHIP_NOTICE):
            return ESCALATION_LEVELS[self.clock]
        return None


def pending_timers(sla: TicketSla, *, now: datetime) -> tuple[Timer, ...]:
    """Every timer the ticket's running clocks need, ordered by due time; overdue ones are due at once."""
    timers: list[Timer] = []
    for state in sla.clocks:
        if state.running and state.deadline is not None:
            timers.extend(_clock_timers(sla, state, now))
    restore = sla.clock(ClockKind.RESTORE, 1)
    if sla.leadership_notice_at is not None and restore is not None and restore.running:
        at = sla.leadership_notice_at
        timers.append(_timer(sla, restore, TimerKind.LEADERSHIP_NOTICE, at, at))
    return tuple(sorted(timers, key=lambda t: (t.due_at, t.clock.value, t.seq, t.kind.value)))


def _clock_timers(sla: TicketSla, state: ClockState, now: datetime) -> list[Timer]:
    deadline = state.deadline
    if state.kind in ESCALATION_LEVELS and state.kind is not ClockKind.RESTORE:
        return [_timer(sla, state, TimerKind.ESCALATION, deadline, deadline)]
    if state.kind is ClockKind.SEVERITY:
        return [_timer(sla, state, TimerKind.SEVERE_MARK, deadline, deadline)]
    timers = [_timer(sla, state, TimerKind.BREACH, deadline, deadline)]
    if state.kind in ANNOUNCED_AT_START:
        timers.append(_timer(sla, state, TimerKind.START, state.started_at, deadline))
    # A warning whose deadline has passed is noise: the breach says more (and no storm after downtime).
    if state.warn_at is not None and deadline > now:
        kind = TimerKind.PROGRESS_DUE if state.kind is ClockKind.PROGRESS else TimerKind.WARNING
        timers.append(_timer(sla, state, kind, state.warn_at, deadline))
    return timers


def _timer(sla: TicketSla, state: ClockState, kind: TimerKind, due: datetime, deadline: datetime) -> Timer:
    timer_id = sla_event_id(sla.ticket_id, state.kind, state.seq, kind.value, deadline)
    return Timer(
        timer_id,
        sla.ticket_id,
        state.kind,
        state.seq,
        kind,
        due,
        deadline,
        sla.policy_version,
        retroactive=due < sla.opened_at,
        subject=state.subject,
        started_at=state.started_at if kind in (TimerKind.START, TimerKind.SEVERE_MARK) else None,
    )
