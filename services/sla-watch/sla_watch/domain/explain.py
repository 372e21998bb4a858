"""A ledger in words: one line per clock instance, in Asia/Shanghai time, for operators and audits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sla_watch.domain.clocks import HONOURS_EXCLUSIONS, PAUSED_BY_SUSPENSION, ClockState, Outcome, TicketSla
from sla_watch.domain.intervals import Gap, clip, counted
from sla_watch.domain.workdays import SHANGHAI


def explain(sla: TicketSla) -> tuple[str, ...]:
    """Why each clock of the ticket has the deadline and verdict it has, then the ledger's notes."""
    head = f"{sla.ticket_id}: {sla.tier.value}, {sla.scope.value}, policy {sla.policy_version}, {sla.status}"
    return (head, *(_line(sla, c) for c in sla.clocks), *sla.notes)


def _line(sla: TicketSla, c: ClockState) -> str:
    who = f" ({c.subject})" if c.subject else ""
    text = f"{c.kind.value} #{c.seq}{who}: from {_t(c.started_at)}, allowance {_d(c.budget_s)}"
    not_counted = _not_counted(sla, c)
    if not_counted:
        text += f", not counted {not_counted}"
    text += ", paused (no deadline)" if c.deadline is None else f", deadline {_t(c.deadline)}"
    if c.provisional:
        text += " (provisional calendar)"
    if c.outcome is Outcome.RUNNING:
        return text + ", running"
    verdict = f", {c.outcome.value} at {_t(c.stopped_at)}"
    if c.elapsed_s is not None and c.outcome is not Outcome.CANCELLED:
        verdict += f" after {_d(c.elapsed_s)}"
    return text + verdict + (" (retroactive)" if c.retroactive and c.outcome is Outcome.BREACHED else "")


def _not_counted(sla: TicketSla, c: ClockState) -> str:
    if not c.gaps:
        return ""
    end = c.stopped_at or max((e or s for s, e in c.gaps), default=c.started_at)
    parts = [f"{_d(_span(c.gaps, c, end).total_seconds())} in all"]
    for label, gaps, applies in (
        ("suspended", sla.suspensions, PAUSED_BY_SUSPENSION),
        ("excluded", sla.exclusions, HONOURS_EXCLUSIONS),
    ):
        if c.kind in applies and gaps:
            seconds = _span(clip(gaps, c.started_at, c.stopped_at), c, end).total_seconds()
            if seconds:
                parts.append(f"{label} {_d(seconds)}")
    return "(" + ", ".join(parts) + ")"


def _span(gaps: tuple[Gap, ...], c: ClockState, end: datetime) -> timedelta:
    return (end - c.started_at) - counted(c.started_at, end, gaps) if end > c.started_at else timedelta(0)


def _t(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _d(seconds: float) -> str:
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    return " ".join(f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (mins, "m")) if n) or "0m"
