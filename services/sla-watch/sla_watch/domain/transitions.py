"""Ledger before → ledger after: what changed, ready to become SlaClockStarted/SlaDeadlineMoved/SlaMet/SlaBreached.

Escalation clocks and the severe mark produce no transitions: they speak only through their timers
(EscalationRaised, TicketSeverityChanged), because escalating a fault that is already restored helps nobody. The
remediation clock is announced by its start timer (the internal report's miss), so it has no STARTED transition.
A restore verdict carries `counted=False` when the resolution's cause is not the operator's (表72 note).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from huying.events import ClockKind
from sla_watch.domain.clocks import ANNOUNCED_AT_START, TIMER_ONLY, ClockState, Outcome, TicketSla
from sla_watch.domain.inputs import SlaInput
from sla_watch.domain.timers import sla_event_id

_REASONS = {
    "TicketSuspended": "paused",
    "TicketResumed": "resumed",
    "ExclusionRecorded": "exclusion",
    "TicketReopened": "reopened",
    "TierChanged": "tier_changed",
    "TicketTierChanged": "tier_changed",
    "TicketVerified": "tier_changed",
}


class Change(StrEnum):
    STARTED = "started"
    MOVED = "moved"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of one clock instance; `event_id` is deterministic (breach ids equal the breach timer's)."""

    event_id: uuid.UUID
    ticket_id: str
    clock: ClockKind
    seq: int
    change: Change
    policy_version: str
    started_at: datetime
    deadline: datetime | None
    old_deadline: datetime | None = None
    stopped_at: datetime | None = None
    elapsed_s: float | None = None
    reason: str | None = None  # for MOVED: paused, resumed, exclusion, reopened, tier_changed, recomputed
    provisional: bool = False
    retroactive: bool = False
    subject: str | None = None  # the team, for acceptance clocks
    counted: bool = True  # False: a restore verdict of a fault whose cause is not the operator's


def move_reason(event: SlaInput) -> str:
    """Why deadlines moved when `event` arrived (SlaDeadlineMoved.reason)."""
    return _REASONS.get(event.type, "recomputed")


def transitions(
    before: TicketSla | Iterable[ClockState] | None, after: TicketSla, *, reason: str = "recomputed"
) -> tuple[Transition, ...]:
    """The changes from `before` (None: nothing stored yet; or just its clock states) to `after`, in clock order."""
    clocks = () if before is None else before.clocks if isinstance(before, TicketSla) else before
    old = {c.key: c for c in clocks}
    out: list[Transition] = []
    for state in after.clocks:
        if state.kind not in TIMER_ONLY:
            out.extend(_changes(after, old.get(state.key), state, reason))
    return tuple(out)


def _changes(sla: TicketSla, prev: ClockState | None, now: ClockState, reason: str) -> list[Transition]:
    if prev is None or _never_ran(prev):
        if now.deadline is None:
            return []  # started during a suspension: SlaClockStarted waits for a deadline (the resume)
        if now.kind in ANNOUNCED_AT_START:
            return [] if now.running else [_transition(sla, now, _verdict(now), None, None)]
        first = [_transition(sla, now, Change.STARTED, None, None)]
        # a clock that started and stopped between two looks still gets both events
        return first if now.running else [*first, _transition(sla, now, _verdict(now), None, None)]
    if now.outcome is not prev.outcome and not now.running:
        return [_transition(sla, now, _verdict(now), None, prev)]
    if now.running and (not prev.running or now.deadline != prev.deadline):
        return [_transition(sla, now, Change.MOVED, _why(prev, now, reason), prev)]
    return []


def _never_ran(state: ClockState) -> bool:
    """Paused since its start, so no SlaClockStarted was emitted for it yet."""
    return state.paused and state.gaps == ((state.started_at, None),)


def _why(prev: ClockState, now: ClockState, reason: str) -> str:
    if not prev.running:
        return "reopened"
    if now.deadline is None or prev.deadline is None:  # the ledger itself shows a pause or a resume
        return "paused" if now.deadline is None else "resumed"
    return reason


def _verdict(state: ClockState) -> Change:
    return {Outcome.MET: Change.MET, Outcome.BREACHED: Change.BREACHED, Outcome.CANCELLED: Change.CANCELLED}[
        state.outcome
    ]


def _stamp(state: ClockState, change: Change) -> datetime | None:
    if state.deadline is not None or change is not Change.MOVED:
        return state.deadline
    return state.gaps[-1][0] if state.gaps else state.started_at  # paused: one id per pause


def _transition(
    sla: TicketSla, state: ClockState, change: Change, reason: str | None, prev: ClockState | None
) -> Transition:
    tag = "breach" if change is Change.BREACHED else change.value  # a breach has one id, timer or stop
    return Transition(
        event_id=sla_event_id(sla.ticket_id, state.kind, state.seq, tag, _stamp(state, change)),
        ticket_id=sla.ticket_id,
        clock=state.kind,
        seq=state.seq,
        change=change,
        policy_version=sla.policy_version,
        started_at=state.started_at,
        deadline=state.deadline,
        old_deadline=None if prev is None else prev.deadline,
        stopped_at=state.stopped_at,
        elapsed_s=state.elapsed_s,
        reason=reason,
        provisional=state.provisional,
        retroactive=state.retroactive,
        subject=state.subject,
        counted=not (state.kind is ClockKind.RESTORE and change in _VERDICTS and not sla.operator_cause),
    )


_VERDICTS = (Change.MET, Change.BREACHED)
