"""sla-watch's pure core: SLA policy, PRC working-day calendar, clocks, replay and timers.

No broker, no database, no clock reads: time always arrives as an argument. See README.md for the
edge-case decisions and policy/sla-policy.yaml for every number.
"""

from sla_watch.domain.clocks import ClockState, ClockStatus, Outcome, TicketSla, elapsed_at, status_at
from sla_watch.domain.commitments import (
    BudgetState,
    Deadline,
    OrderKind,
    ResourceCase,
    ahead_of,
    budget_state,
    cutover_notice_due,
    order_due,
    prewarning_due,
    quality_budget,
    resource_check_due,
    within,
)
from sla_watch.domain.explain import explain
from sla_watch.domain.inputs import SlaInput, TierChanged, in_order
from sla_watch.domain.policy import PolicyBook, SlaPolicy
from sla_watch.domain.pricing import Priced, deadline_for, span_for
from sla_watch.domain.replay import replay
from sla_watch.domain.retention import purge_after, settled, year_purge_after
from sla_watch.domain.snapshot import clocks_data, clocks_from, stored_timer_id, timer_data, timer_from_data
from sla_watch.domain.spans import Span, Unit
from sla_watch.domain.timers import SLA_NAMESPACE, Timer, TimerKind, pending_timers, sla_event_id
from sla_watch.domain.transitions import Change, Transition, move_reason, transitions
from sla_watch.domain.workdays import (
    SHANGHAI,
    CalendarOverrides,
    UnknownCalendarYear,
    WorkingCalendar,
    WorkingDay,
    YearOverride,
    prc_calendar,
)

__all__ = [
    "SHANGHAI",
    "SLA_NAMESPACE",
    "BudgetState",
    "CalendarOverrides",
    "Change",
    "ClockState",
    "ClockStatus",
    "Deadline",
    "OrderKind",
    "Outcome",
    "PolicyBook",
    "Priced",
    "ResourceCase",
    "SlaInput",
    "SlaPolicy",
    "Span",
    "TicketSla",
    "TierChanged",
    "Timer",
    "TimerKind",
    "Transition",
    "Unit",
    "UnknownCalendarYear",
    "WorkingCalendar",
    "WorkingDay",
    "YearOverride",
    "ahead_of",
    "budget_state",
    "clocks_data",
    "clocks_from",
    "cutover_notice_due",
    "deadline_for",
    "elapsed_at",
    "explain",
    "in_order",
    "move_reason",
    "order_due",
    "pending_timers",
    "prc_calendar",
    "prewarning_due",
    "purge_after",
    "quality_budget",
    "replay",
    "resource_check_due",
    "settled",
    "sla_event_id",
    "span_for",
    "status_at",
    "stored_timer_id",
    "timer_data",
    "timer_from_data",
    "transitions",
    "within",
    "year_purge_after",
]
