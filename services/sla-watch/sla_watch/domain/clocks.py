"""The ledger: one frozen state per clock instance, and the ticket's set of them (what replay returns)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from huying.events import OPERATOR_CAUSES, AssuranceLevel, Category, CauseCategory, ClockKind, Scope, Tier
from sla_watch.domain.intervals import Gap, counted

ESCALATIONS = (ClockKind.ESCALATION_DIRECTOR, ClockKind.ESCALATION_DEPUTY_GM)
# Clocks that speak only through their timers (no SlaClockStarted/SlaMet/...): escalating, or marking a fault
# severe, after it is restored helps nobody, and neither is a commitment that can be met.
TIMER_ONLY = frozenset({*ESCALATIONS, ClockKind.SEVERITY})
# Announced by a timer at its start, not when it is created: the remediation item exists only once the internal
# report was missed (its start is that report's deadline); an on-time report cancels it unannounced.
ANNOUNCED_AT_START = frozenset({ClockKind.REMEDIATION})
# Suspension pauses these (DOMAIN.md: "time while suspended does not count"); escalation follows restore.
PAUSED_BY_SUSPENSION = frozenset({ClockKind.RESTORE, ClockKind.PROGRESS, ClockKind.INTERNAL_PROGRESS, *ESCALATIONS})
# Customer-caused and interconnection time is excluded from the restore limit only (表72 note).
HONOURS_EXCLUSIONS = frozenset({ClockKind.RESTORE})


class Outcome(StrEnum):
    """Where a clock instance stands according to the events (a running clock has no verdict yet)."""

    RUNNING = "running"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ClockState:
    """One clock instance: its window, the time that did not count, deadline, warning point and verdict."""

    kind: ClockKind
    seq: int  # instance number within the ticket (progress update n, acceptance clock n, resolution n)
    started_at: datetime
    budget_s: float  # allowance in counted seconds (date-based clocks: wall seconds start→deadline)
    deadline: datetime | None  # None while paused
    warn_at: datetime | None
    stopped_at: datetime | None = None
    outcome: Outcome = Outcome.RUNNING
    elapsed_s: float | None = None  # counted seconds at stop
    gaps: tuple[Gap, ...] = ()  # time that does not count, merged and clipped to the clock's window
    subject: str | None = None  # the team, for acceptance clocks
    provisional: bool = False  # deadline used a guessed (Monday–Friday) calendar year
    retroactive: bool = False  # deadline had passed before the ticket existed (back-filled)

    @property
    def key(self) -> tuple[ClockKind, int]:
        return (self.kind, self.seq)

    @property
    def running(self) -> bool:
        return self.outcome is Outcome.RUNNING

    @property
    def paused(self) -> bool:
        return self.running and self.deadline is None


@dataclass(frozen=True, slots=True)
class TicketSla:
    """Everything the SLA engine knows about one ticket: the replayable ledger sla-watch stores."""

    ticket_id: str
    policy_version: str
    tier: Tier
    scope: Scope
    category: Category
    opened_at: datetime
    clocks: tuple[ClockState, ...]
    leadership_notice_at: datetime | None = None
    status: str = "open"  # open | resolved | closed | cancelled
    notes: tuple[str, ...] = ()  # decisions worth explaining: ignored events, provisional calendar years
    suspensions: tuple[Gap, ...] = ()  # approved pauses of the ticket, for explaining a clock's gaps
    exclusions: tuple[Gap, ...] = ()  # customer-caused / interconnection intervals recorded
    assurance_level: AssuranceLevel | None = None  # the line's level the restore limit read (None: the tier's)
    cause_category: CauseCategory | None = None  # of the latest resolution (None: not resolved, or unstated)

    @property
    def operator_cause(self) -> bool:
        """Whether the fault counts against the restore commitment and the quality budget (表72 note): an
        operator cause, or no category stated (events from before it existed count as the operator's)."""
        return self.cause_category is None or self.cause_category in OPERATOR_CAUSES

    def clock(self, kind: ClockKind, seq: int | None = None) -> ClockState | None:
        """The instance `seq` of `kind`, or its latest instance."""
        found = [c for c in self.clocks if c.kind is kind and (seq is None or c.seq == seq)]
        return found[-1] if found else None


@dataclass(frozen=True, slots=True)
class ClockStatus:
    """A clock seen at an instant: for the GET /v1/tickets/{id}/sla view and SlaWarning.used_ratio."""

    elapsed_s: float
    remaining_s: float | None
    used_ratio: float
    overdue: bool
    paused: bool


def elapsed_at(state: ClockState, at: datetime) -> timedelta:
    """Counted time of `state` up to `at` (or its stop, if earlier)."""
    end = at if state.stopped_at is None else min(at, state.stopped_at)
    return counted(state.started_at, end, state.gaps)


def status_at(state: ClockState, *, now: datetime) -> ClockStatus:
    """Elapsed, remaining and used share of a clock as of `now`."""
    elapsed = elapsed_at(state, now).total_seconds()
    used = elapsed / state.budget_s if state.budget_s else 1.0
    if state.deadline is None:
        return ClockStatus(elapsed, None, used, False, state.paused)
    end = now if state.stopped_at is None else state.stopped_at
    remaining = (state.deadline - end).total_seconds()
    return ClockStatus(elapsed, remaining, used, remaining < 0, False)
