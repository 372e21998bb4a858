"""The mutable working copy replay folds events into, and how it freezes into the ledger (TicketSla)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from huying.events import AssuranceLevel, Category, CauseCategory, ClockKind, CustomerGrade, Scope, Tier
from sla_watch.domain.clocks import (
    ESCALATIONS,
    HONOURS_EXCLUSIONS,
    PAUSED_BY_SUSPENSION,
    ClockState,
    Outcome,
    TicketSla,
)
from sla_watch.domain.intervals import Gap, clip, counted
from sla_watch.domain.policy import PolicyBook, SlaPolicy
from sla_watch.domain.pricing import Priced, deadline_for, fixed_deadline, ratio_for, span_for
from sla_watch.domain.spans import Span
from sla_watch.domain.workdays import WorkingCalendar, unknown_year_warning

STOP, SUPERSEDE, CANCEL = "stop", "supersede", "cancel"
TIER_PRICED = (ClockKind.RESTORE, ClockKind.PROGRESS, ClockKind.FEEDBACK, ClockKind.WRITTEN_REPORT, *ESCALATIONS)


class Clock:
    """A clock instance being built; `how` says how it ended (stop, supersede, cancel) or None if running."""

    __slots__ = ("end", "fixed", "floor", "gaps", "how", "kind", "policy", "seq", "span", "start", "subject")

    def __init__(
        self,
        kind: ClockKind,
        seq: int,
        start: datetime,
        span: Span | None,
        policy: SlaPolicy,
        subject: str | None = None,
        fixed: datetime | None = None,
    ) -> None:
        self.kind, self.seq, self.start, self.span, self.policy = kind, seq, start, span, policy
        self.subject, self.fixed = subject, fixed
        self.end: datetime | None = None
        self.how: str | None = None
        self.gaps: list[Gap] = []  # the clock's own gaps (a reopened restore clock's resolved interval)
        self.floor: datetime | None = None  # a tier change never pulls the deadline before this

    @property
    def running(self) -> bool:
        return self.how is None

    def finish(self, how: str, at: datetime) -> None:
        self.how, self.end = how, max(at, self.start)


@dataclass
class Ticket:
    """One ticket's facts and clocks while replaying; `freeze()` turns it into the stored ledger."""

    ticket_id: str
    opened_at: datetime
    tier: Tier
    scope: Scope
    category: Category
    book: PolicyBook
    policy: SlaPolicy
    calendar: WorkingCalendar
    restore_start: datetime
    full_outage: bool = False
    status: str = "open"
    clocks: list[Clock] = field(default_factory=list)
    suspensions: list[list] = field(default_factory=list)  # [start, end | None]
    exclusions: list[Gap] = field(default_factory=list)
    leadership_notice_at: datetime | None = None
    resolved_at: datetime | None = None
    report_requested_at: datetime | None = None
    notes: list[str] = field(default_factory=list)
    seqs: dict[ClockKind, int] = field(default_factory=dict)
    level: AssuranceLevel | None = None  # the line's explicit assurance level (None: it follows the tier)
    grade: CustomerGrade | None = None  # the customer's grade from CRM (None: unverified)
    severe: bool = False  # opened severe (an incident): no severe mark to time
    cause_category: CauseCategory | None = None  # of the latest resolution
    product_family: str | None = None  # the line's, from CRM (the 8-hour circuit mark needs it)
    followed_up: bool = False  # a SatisfactionRecorded since the last reopening

    @property
    def assurance_level(self) -> AssuranceLevel:
        """The level the restore limit and the quality budget read (表71/72/75)."""
        return self.level or AssuranceLevel.of_tier(self.tier)

    @property
    def suspended(self) -> bool:
        return bool(self.suspensions) and self.suspensions[-1][1] is None

    def note(self, at: datetime, text: str) -> None:
        self.notes.append(f"{at.isoformat()} {text}")

    def running(self, *kinds: ClockKind, subject: str | None = None) -> list[Clock]:
        return [c for c in self.clocks if c.running and c.kind in kinds and (subject is None or c.subject == subject)]

    def start(
        self,
        kind: ClockKind,
        at: datetime,
        *,
        subject: str | None = None,
        fixed: datetime | None = None,
        span: Span | None = None,
    ) -> Clock | None:
        """Start an instance of `kind` priced for the ticket's tier (and line level) now, or for `span` when given;
        None when the tier has no such clock."""
        if span is None:
            span = span_for(kind, tier=self.tier, scope=self.scope, policy=self.policy, level=self.level)
        if span is None and fixed is None:
            return None
        seq = self.seqs[kind] = self.seqs.get(kind, 0) + 1
        clock = Clock(kind, seq, at, span, self.policy, subject, fixed)
        self.clocks.append(clock)
        return clock

    def gaps_of(self, clock: Clock) -> tuple[Gap, ...]:
        gaps = list(clock.gaps)
        if clock.kind in PAUSED_BY_SUSPENSION:
            gaps.extend((s, e) for s, e in self.suspensions)
        if clock.kind in HONOURS_EXCLUSIONS:
            gaps.extend(self.exclusions)
        return clip(gaps, clock.start, clock.end) if gaps else ()

    def price(self, clock: Clock, gaps: tuple[Gap, ...] | None = None) -> Priced:
        ratio = ratio_for(clock.kind, clock.policy)
        if clock.fixed is not None:
            return fixed_deadline(clock.fixed, start=clock.start, ratio=ratio)
        return deadline_for(
            clock.span,
            start=clock.start,
            gaps=self.gaps_of(clock) if gaps is None else gaps,
            scale=clock.policy.time_scale,
            calendar=self.calendar,
            ratio=ratio,
            floor=clock.floor,
        )

    def overdue(self, clock: Clock, at: datetime) -> bool:
        deadline = self.price(clock).deadline
        return deadline is not None and deadline < at

    def supersede(self, clocks: list[Clock], at: datetime) -> None:
        for clock in clocks:
            clock.finish(SUPERSEDE, at)

    def freeze(self) -> TicketSla:
        states, unknown = [], set()
        for clock in self.clocks:
            state, years = self._state(clock)
            states.append(state)
            unknown.update(years)
        notes = [*self.notes, unknown_year_warning(tuple(sorted(unknown)))] if unknown else self.notes
        return TicketSla(
            self.ticket_id,
            self.policy.version,
            self.tier,
            self.scope,
            self.category,
            self.opened_at,
            tuple(states),
            self.leadership_notice_at,
            self.status,
            tuple(notes),
            tuple((a, b) for a, b in self.suspensions),
            tuple(self.exclusions),
            self.assurance_level,
            self.cause_category,
        )

    def _state(self, clock: Clock) -> tuple[ClockState, tuple[int, ...]]:
        gaps = self.gaps_of(clock)
        priced = self.price(clock, gaps)
        deadline = priced.deadline
        outcome, elapsed = Outcome.RUNNING, None
        if clock.how is not None:
            elapsed = counted(clock.start, clock.end, gaps).total_seconds()
            late = deadline is not None and (clock.end > deadline)
            outcome = {
                STOP: Outcome.BREACHED if late else Outcome.MET,
                SUPERSEDE: Outcome.BREACHED if late else Outcome.CANCELLED,
                CANCEL: Outcome.CANCELLED,
            }[clock.how]
        retroactive = deadline is not None and deadline < self.opened_at
        state = ClockState(
            clock.kind,
            clock.seq,
            clock.start,
            priced.budget_s,
            deadline,
            priced.warn_at,
            clock.end,
            outcome,
            elapsed,
            gaps,
            clock.subject,
            priced.provisional,
            retroactive,
        )
        return state, priced.unknown_years
