"""After restoration: the reports a fault owes and the follow-up call — the customer's written report (表74),
the internal fault report every fault owes within 2 working days and the remediation item when it is late (seed
000 rule 10), and the follow-up (回访) after closure (seed 001 2)-(10)), whose missing call is a reminder.
"""

from __future__ import annotations

from datetime import timedelta

from huying.events import ClockKind, FaultReportRequested, FaultReportSubmitted, SatisfactionRecorded
from sla_watch.domain.ledger import CANCEL, STOP, Ticket
from sla_watch.domain.pricing import deadline_for


def start_internal_report(t: Ticket) -> None:
    """Seed 000 rule 10, every fault: the internal report within 2 working days of restoration, and — dormant
    until that deadline passes — the remediation item due 1 working day after the miss."""
    if t.resolved_at is None or any(c.kind is ClockKind.INTERNAL_REPORT and c.start >= t.resolved_at for c in t.clocks):
        return  # one internal report per resolution
    report = t.start(ClockKind.INTERNAL_REPORT, t.resolved_at)
    due = None if report is None else t.price(report).deadline
    if due is None:
        return
    # The miss is the last instant of the report's day: "within 1 working day" of it ends with the next working day.
    span = t.policy.internal_report.remediation
    priced = deadline_for(span, start=due - _INSTANT, scale=t.policy.time_scale, calendar=t.calendar)
    t.start(ClockKind.REMEDIATION, due, fixed=priced.deadline, span=span)


_INSTANT = timedelta(microseconds=1)


def maybe_start_report(t: Ticket) -> None:
    term = t.policy.written_report.term(t.tier)
    if term is None or t.resolved_at is None:
        return
    if any(c.kind is ClockKind.WRITTEN_REPORT and c.start >= t.resolved_at for c in t.clocks):
        return  # one report clock per resolution
    if not term.on_request:
        t.start(ClockKind.WRITTEN_REPORT, t.resolved_at)
    elif t.report_requested_at is not None:
        t.start(ClockKind.WRITTEN_REPORT, max(t.report_requested_at, t.resolved_at))


def followed_up(t: Ticket, e: SatisfactionRecorded) -> None:
    t.followed_up = True
    for clock in t.running(ClockKind.FOLLOW_UP):
        clock.finish(STOP, e.called_at or e.occurred_at)


def report_submitted(t: Ticket, e: FaultReportSubmitted) -> None:
    at = e.occurred_at
    if e.kind == "customer":
        for clock in t.running(ClockKind.WRITTEN_REPORT):
            clock.finish(STOP, at)
    elif e.kind == "internal":
        for clock in t.running(ClockKind.INTERNAL_REPORT):
            clock.finish(STOP, at)
        for clock in t.running(ClockKind.REMEDIATION):
            if clock.start >= at:  # on time: nothing to remediate (a late report leaves the item owed)
                clock.finish(CANCEL, at)
    else:
        due = [c for c in t.running(ClockKind.REMEDIATION) if c.start <= at]
        if not due:
            t.note(at, f"remediation {e.document_ref} with no remediation owed ignored")
        for clock in due:
            clock.finish(STOP, at)


def report_requested(t: Ticket, e: FaultReportRequested) -> None:
    if t.report_requested_at is None:
        t.report_requested_at = e.occurred_at
    maybe_start_report(t)
