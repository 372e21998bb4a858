"""Network quality of a service line per calendar year (表75): the faults on the line and their outage hours,
against the budget of the line's tier → `QualityBudgetWarning` / `QualityBudgetExceeded`.

Decisions (also in README.md, "Quality budgets"):
- A fault is a resolved ticket on the line. Terminal-only faults are not counted (表75 note); a cancelled
  ticket is no fault; a reopened and re-resolved ticket is still one fault. "Repeat faults ≤ 4/year" is read
  as at most four faults on the line in the year, the first included (the stricter reading: it warns earlier).
- Its outage time is the restore clock's counted time: from the report (or earlier alarm) to restoration,
  without approved suspensions and customer-caused / interconnection intervals (表72 note, the same time the
  restore commitment measures). A ticket reopened adds the time until its next restoration.
- The year is the Shanghai calendar year in which the restore clock started.
- The budget is the line's assurance level (表75 reads AAA/AA/A/普通; by default the customer's tier now).
- Only the operator's causes count (表72 note): a resolution whose cause category is not the operator's counts
  no fault, and a ticket re-resolved with such a cause no longer counts (its fault is forgotten).
- One event per line, year, measure and state, with an id derived from them: a warning is sent once, an
  excess once; an excess reached at one step sends no warning first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from huying.events import ClockKind, QualityBudgetExceeded, QualityBudgetWarning, Tier
from huying.events.sla import QualityMeasure
from sla_watch.domain.clocks import TicketSla
from sla_watch.domain.commitments import BudgetState, budget_state, quality_budget
from sla_watch.domain.policy import SlaPolicy
from sla_watch.domain.timers import SLA_NAMESPACE
from sla_watch.domain.workdays import SHANGHAI

PRODUCER = "sla-watch"
COUNTED = ("resolved", "closed")


@dataclass(frozen=True, slots=True)
class Fault:
    """What one resolved ticket counts against its line's year."""

    service_line_id: str
    year: int
    ticket_id: str
    tier: Tier
    outage_hours: float
    resolved_at: datetime


def fault_of(sla: TicketSla, *, service_line_id: str | None, terminal_only: bool) -> Fault | None:
    """The fault a ticket counts as; None while it counts nothing (no line, terminal-only, not resolved)."""
    restore = sla.clock(ClockKind.RESTORE)
    if not service_line_id or terminal_only or sla.status not in COUNTED or restore is None:
        return None
    if not sla.operator_cause:
        return None
    if restore.running or restore.elapsed_s is None or restore.stopped_at is None:
        return None
    return Fault(
        service_line_id=service_line_id,
        year=restore.started_at.astimezone(SHANGHAI).year,
        ticket_id=sla.ticket_id,
        tier=sla.assurance_level.tier if sla.assurance_level is not None else sla.tier,
        outage_hours=restore.elapsed_s / 3600,
        resolved_at=restore.stopped_at,
    )


def used(faults: Sequence[Fault], measure: QualityMeasure) -> float:
    """How much of the year's budget the line's faults use (one fault per ticket)."""
    by_ticket = {f.ticket_id: f for f in faults}
    if measure is QualityMeasure.REPEAT_FAULTS:
        return float(len(by_ticket))
    return round(sum(f.outage_hours for f in by_ticket.values()), 4)


def alert_id(service_line_id: str, year: int, measure: QualityMeasure, state: BudgetState) -> uuid.UUID:
    return uuid.uuid5(SLA_NAMESPACE, f"quality|{service_line_id}|{year}|{measure}|{state}")


def budget_alerts(
    faults: Sequence[Fault], *, latest: Fault, policy: SlaPolicy
) -> list[QualityBudgetWarning | QualityBudgetExceeded]:
    """The events the line's faults of `latest`'s year call for, per measure, after `latest` was counted. The
    caller sends each id once; the same state always gives the same id."""
    year = [f for f in faults if f.service_line_id == latest.service_line_id and f.year == latest.year]
    if all(f.ticket_id != latest.ticket_id for f in year):
        year.append(latest)
    alerts: list[QualityBudgetWarning | QualityBudgetExceeded] = []
    for measure in QualityMeasure:
        amount = used(year, measure)
        budget = quality_budget(tier=latest.tier, measure=measure, policy=policy)
        state = budget_state(used=amount, budget=budget, warning_ratio=policy.quality_budget.warning_ratio)
        if state is BudgetState.OK:
            continue
        kind = QualityBudgetExceeded if state is BudgetState.EXCEEDED else QualityBudgetWarning
        alerts.append(
            kind(
                event_id=alert_id(latest.service_line_id, latest.year, measure, state),
                occurred_at=latest.resolved_at,
                producer=PRODUCER,
                correlation_id=latest.ticket_id,
                service_line_id=latest.service_line_id,
                year=latest.year,
                measure=measure,
                used=amount,
                budget=budget,
            )
        )
    return alerts
