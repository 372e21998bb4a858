"""Replay: a ticket's events → its clock states. Pure and deterministic; the ledger sla-watch stores.

Which event starts, stops, pauses or supersedes which clock is decided here; the numbers come from the
policy; the edge cases are explained in README.md next to this file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from huying.events import (
    Channel,
    ClockKind,
    CustomerContacted,
    ExclusionRecorded,
    FaultReportRequested,
    FaultReportSubmitted,
    ProgressNoted,
    ReportLinked,
    RestorationConfirmed,
    SatisfactionRecorded,
    Severity,
    TicketAccepted,
    TicketCancelled,
    TicketClosed,
    TicketDispatched,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketResumed,
    TicketSuspended,
    TicketTierChanged,
    TicketTransferred,
    TicketVerified,
)
from sla_watch.domain.aftercare import (
    followed_up,
    maybe_start_report,
    report_requested,
    report_submitted,
    start_internal_report,
)
from sla_watch.domain.clocks import ESCALATIONS, TicketSla
from sla_watch.domain.inputs import SlaInput, TierChanged, in_order, pauses_in_state_order
from sla_watch.domain.ledger import CANCEL, STOP, Ticket
from sla_watch.domain.policy import PolicyBook, SlaPolicy
from sla_watch.domain.retier import change_tier
from sla_watch.domain.severity import mark_severe
from sla_watch.domain.workdays import WorkingCalendar

RESTORE_FAMILY = (ClockKind.RESTORE, *ESCALATIONS, ClockKind.SEVERITY)  # run from the outage's start to restoration
WORK_IN_HAND = (ClockKind.ACCEPTANCE, ClockKind.CONTACT, ClockKind.PROGRESS, ClockKind.INTERNAL_PROGRESS)


def replay(
    events: Iterable[SlaInput], *, policy: SlaPolicy | PolicyBook, calendar: WorkingCalendar
) -> TicketSla | None:
    """Fold a ticket's events (any order, duplicates allowed) into its clock states; None until it is opened."""
    ordered = in_order(events)
    opened = next((e for e in ordered if isinstance(e, TicketOpened)), None)
    if opened is None:
        return None
    ticket = _open(opened, PolicyBook.of(policy), calendar)
    for event in pauses_in_state_order([e for e in ordered if e is not opened], lambda: ticket.suspended):
        if getattr(event, "ticket_id", ticket.ticket_id) != ticket.ticket_id:
            ticket.note(event.occurred_at, f"{event.type} of ticket {event.ticket_id} ignored")
            continue
        if ticket.status == "cancelled":
            ticket.note(event.occurred_at, f"{event.type} after cancellation ignored")
            continue
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(ticket, event)
    return ticket.freeze()


def _open(e: TicketOpened, book: PolicyBook, calendar: WorkingCalendar) -> Ticket:
    policy = book.at(e.occurred_at)
    restore_start = min(e.reported_at, e.alarm_at or e.reported_at)  # 表72 note: report or alarm, earlier
    t = Ticket(
        e.ticket_id,
        e.occurred_at,
        e.tier,
        e.scope,
        e.category,
        book,
        policy,
        calendar,
        restore_start,
        full_outage=e.full_outage,
        level=e.assurance_level,
        grade=e.customer_grade,
        severe=e.severity is Severity.SEVERE,
        product_family=e.product_family,
    )
    for kind in (ClockKind.RESTORE, *ESCALATIONS):
        t.start(kind, restore_start)
    mark_severe(t)
    t.start(ClockKind.PROGRESS, restore_start)  # 表73: from the customer's report
    t.start(ClockKind.INTERNAL_PROGRESS, e.occurred_at)  # seed 000 rule 4: from when the ticket exists
    if e.channel is Channel.GREEN_CHANNEL:
        t.start(ClockKind.BACKFILL, e.reported_at, fixed=e.backfill_due)
    # 【AAA级】和【AA级】业务全阻: the line's assurance level (by default the tier's) decides the immediate notice.
    if e.leadership_notice or (e.full_outage and t.assurance_level.tier in policy.escalation.leadership_notice_tiers):
        t.leadership_notice_at = e.occurred_at
    return t


def _opened_again(t: Ticket, e: TicketOpened) -> None:
    t.note(e.occurred_at, f"second TicketOpened {e.event_id} ignored")


def _linked(t: Ticket, e: ReportLinked) -> None:
    if e.link == "backfill":
        for clock in t.running(ClockKind.BACKFILL):
            clock.finish(STOP, e.reported_at)
    elif e.link in ("same_line", "duplicate_customer") and e.reported_at < t.restore_start:
        # An earlier report of the same fault (e.g. an alarm linked later) is when the fault was known.
        t.note(e.occurred_at, f"restore start moved to {e.reported_at.isoformat()} by linked report {e.external_id}")
        for clock in t.clocks:
            if clock.kind in RESTORE_FAMILY or (
                clock.kind is ClockKind.PROGRESS and clock.seq == 1 and clock.start == t.restore_start
            ):
                clock.start = e.reported_at
        t.restore_start = e.reported_at


def _dispatched(t: Ticket, e: TicketDispatched) -> None:
    if not any(c.kind is ClockKind.CONTACT for c in t.clocks):
        t.start(ClockKind.CONTACT, e.occurred_at)
    for team in e.teams:
        _await_acceptance(t, team, e.occurred_at)


def _await_acceptance(t: Ticket, team: str, at: datetime) -> None:
    current = t.running(ClockKind.ACCEPTANCE, subject=team)
    if current and not t.overdue(current[0], at):
        return  # already waiting for this team: a repeated dispatch does not restart its 10 minutes
    t.supersede(current, at)  # an overdue one ends breached; the re-dispatch starts a fresh one
    t.start(ClockKind.ACCEPTANCE, at, subject=team)


def _accepted(t: Ticket, e: TicketAccepted) -> None:
    clocks = t.running(ClockKind.ACCEPTANCE, subject=e.team)
    if not clocks:
        t.note(e.occurred_at, f"acceptance by {e.team} with no acceptance clock waiting")
    for clock in clocks:
        clock.finish(STOP, e.occurred_at)


def _transferred(t: Ticket, e: TicketTransferred) -> None:
    t.supersede(t.running(ClockKind.ACCEPTANCE, subject=e.from_team), e.occurred_at)
    _await_acceptance(t, e.to_team, e.occurred_at)


def _contacted(t: Ticket, e: CustomerContacted) -> None:
    for clock in t.running(ClockKind.CONTACT):
        clock.finish(STOP, e.contacted_at)


def _progress(t: Ticket, e: ProgressNoted) -> None:
    if t.status == "open":  # seed 000 rule 4: any note appended to the ticket, told to the customer or not
        for clock in t.running(ClockKind.INTERNAL_PROGRESS):
            clock.finish(STOP, e.occurred_at)
        t.start(ClockKind.INTERNAL_PROGRESS, e.occurred_at)
    if t.policy.progress.customer_informed_only and not e.customer_informed:
        return
    if t.status != "open":  # telling the customer after resolution is the verbal feedback
        for clock in t.running(ClockKind.FEEDBACK):
            clock.finish(STOP, e.occurred_at)
        return
    for clock in t.running(ClockKind.PROGRESS):
        clock.finish(STOP, e.occurred_at)
    t.start(ClockKind.PROGRESS, e.occurred_at)


def _suspended(t: Ticket, e: TicketSuspended) -> None:
    rule = t.policy.suspension
    missing = [
        what
        for what, needed, given in (
            ("customer consent", rule.requires_consent, e.consent_by),
            ("approval", rule.requires_approval, e.approved_by),
        )
        if needed and not given
    ]
    if missing:
        t.note(e.occurred_at, f"suspension without {' and '.join(missing)}: not a pause")
    elif t.status != "open" or t.suspended:
        t.note(e.occurred_at, f"suspension of a {'suspended' if t.suspended else t.status} ticket ignored")
    else:
        t.suspensions.append([e.occurred_at, None])


def _resumed(t: Ticket, e: TicketResumed) -> None:
    if not t.suspended:
        t.note(e.occurred_at, "resume without a recorded pause ignored")
        return
    _end_suspension(t, e.occurred_at)


def _end_suspension(t: Ticket, at: datetime) -> None:
    if t.suspended:
        t.suspensions[-1][1] = max(at, t.suspensions[-1][0])


def _excluded(t: Ticket, e: ExclusionRecorded) -> None:
    if e.end <= e.start:
        t.note(e.occurred_at, f"empty {e.kind.value} exclusion ignored")
    else:
        t.exclusions.append((e.start, e.end))


def _resolved(t: Ticket, e: TicketResolved) -> None:
    if t.status != "open":
        t.note(e.occurred_at, f"TicketResolved on a {t.status} ticket ignored")
        return
    at = e.restored_at
    _end_suspension(t, at)
    for clock in t.running(*RESTORE_FAMILY):
        clock.finish(STOP, at)
    t.supersede(t.running(*WORK_IN_HAND), at)
    t.start(ClockKind.FEEDBACK, at)
    t.status, t.resolved_at = "resolved", at
    t.cause_category = e.cause_category
    maybe_start_report(t)
    start_internal_report(t)


def _confirmed(t: Ticket, e: RestorationConfirmed) -> None:
    if e.method == "customer":
        for clock in t.running(ClockKind.FEEDBACK):
            clock.finish(STOP, e.occurred_at)
    else:
        t.note(e.occurred_at, "restoration confirmed by NOC alarm: customer not yet told")


def _closed(t: Ticket, e: TicketClosed) -> None:
    _end_suspension(t, e.occurred_at)
    for clock in t.running(*RESTORE_FAMILY):
        clock.finish(STOP, e.occurred_at)
    t.supersede(t.running(*WORK_IN_HAND), e.occurred_at)
    t.status = "closed"
    if not t.followed_up and not t.running(ClockKind.FOLLOW_UP):
        t.start(ClockKind.FOLLOW_UP, e.occurred_at)  # its breach reminds customer service of the 回访


def _reopened(t: Ticket, e: TicketReopened) -> None:
    if t.status not in ("resolved", "closed"):
        t.note(e.occurred_at, f"reopen of an {t.status} ticket ignored")
        return
    at = e.occurred_at
    for clock in t.clocks:  # continue the same instance: the resolved interval does not count
        if clock.kind in RESTORE_FAMILY and clock.how == STOP:
            clock.gaps.append((clock.end, max(at, clock.end)))
            clock.how = clock.end = None
    t.supersede(t.running(ClockKind.FEEDBACK, ClockKind.WRITTEN_REPORT, ClockKind.INTERNAL_REPORT), at)
    for clock in t.running(ClockKind.REMEDIATION, ClockKind.FOLLOW_UP):
        if clock.kind is ClockKind.FOLLOW_UP or clock.start > at:  # a report not yet missed owes no remediation
            clock.finish(CANCEL, at)
    t.status, t.resolved_at, t.followed_up = "open", None, False
    t.start(ClockKind.PROGRESS, at)
    t.start(ClockKind.INTERNAL_PROGRESS, at)


def _cancelled(t: Ticket, e: TicketCancelled) -> None:
    _end_suspension(t, e.occurred_at)
    for clock in t.clocks:
        if clock.running:
            clock.finish(CANCEL, e.occurred_at)
    t.status = "cancelled"


_HANDLERS: dict[type, Callable[[Ticket, object], None]] = {
    TicketOpened: _opened_again,
    ReportLinked: _linked,
    TicketDispatched: _dispatched,
    TicketAccepted: _accepted,
    TicketTransferred: _transferred,
    CustomerContacted: _contacted,
    ProgressNoted: _progress,
    TicketSuspended: _suspended,
    TicketResumed: _resumed,
    ExclusionRecorded: _excluded,
    TicketResolved: _resolved,
    RestorationConfirmed: _confirmed,
    TicketClosed: _closed,
    TicketReopened: _reopened,
    TicketCancelled: _cancelled,
    FaultReportSubmitted: report_submitted,
    FaultReportRequested: report_requested,
    SatisfactionRecorded: followed_up,
    TierChanged: change_tier,
    TicketTierChanged: change_tier,
    TicketVerified: change_tier,
}
