"""`ticket_facts`: everything the KPIs read about one ticket, folded from its entries (reporting.domain.entries).

The fold is a pure function of the entries: they are de-duplicated by event id and ordered by time (an instant's
events in the order they arrived), so a redelivered event, or the two topics' events interleaved in any way, give
the same facts.

Choices where the sources are silent (docs/reporting.md, "ticket_facts"):
- A clock instance is (clock, seq, subject). Its outcome is `breached` once any breach of it arrived (a miss
  stays a miss), else `met`, else `cancelled` when it ended without a verdict (the ticket was cancelled, or a
  work-in-hand clock was still running when the ticket was resolved or closed), else `running`.
- `counted` of a restore verdict: the verdict said so *and* the last resolution's cause is the operator's (a breach
  sent by the timer while open cannot be withdrawn, sla-watch's README: the cause category is read with it). A
  resolution without a cause category counts as the operator's (the contract's default).
- The restore interval runs from the outage's start (report or earlier alarm, 表72 note) to the last restoration;
  suspended time, customer-caused / interconnection time and the time between a restoration and a reopening are
  not counted (their union, so overlaps count once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from huying.events import OPERATOR_CAUSES, AssuranceLevel, CauseCategory, Tier
from reporting.domain.intervals import Interval, clipped, seconds

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORK_IN_HAND = {
    "acceptance", "contact", "progress", "internal_progress", "restore", "escalation_director",
    "escalation_deputy_gm", "severity",
}  # fmt: skip
# At one instant an opening comes first; otherwise events of one instant keep their order of arrival, which for
# the ticket topic is the ticket's own order (one partition per ticket): a suspension and its resumption at the
# same second pair up as they happened.
_FIRST = {"TicketOpened", "IncidentOpened"}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class _Ticket:
    """The fold's state while entries are applied in time order."""

    facts: dict[str, Any] = field(default_factory=dict)
    teams: list[str] = field(default_factory=list)
    clocks: dict[tuple[str, int, str | None], dict[str, Any]] = field(default_factory=dict)
    suspensions: list[list[datetime | None]] = field(default_factory=list)
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    restorations: list[datetime] = field(default_factory=list)
    reopenings: list[datetime] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    follow_up: dict[str, Any] = field(default_factory=dict)

    def team(self, name: str | None) -> None:
        if name and name not in self.teams:
            self.teams.append(name)

    def clock(self, e: dict[str, Any]) -> dict[str, Any]:
        key = (e["clock"], e.get("seq", 1), e.get("subject"))
        return self.clocks.setdefault(key, {"clock": key[0], "seq": key[1], "subject": key[2], "outcome": None})


_SNAPSHOT = ("customer_id", "service_line_id", "tier", "scope", "category", "city", "customer_grade",
             "product_family")  # fmt: skip


def _opened(t: _Ticket, e: dict[str, Any]) -> None:
    f = t.facts
    f.update({k: e.get(k) for k in _SNAPSHOT if k in e})
    f.update(kind="ticket", channel=e["channel"], reported_at=at(e["reported_at"]), opened_at=at(e["at"]))
    f["alarm_at"] = at(e["alarm_at"]) if e.get("alarm_at") else None
    f["explicit_level"] = e.get("assurance_level")
    f["parent_incident_id"] = e.get("parent_incident_id")
    f["terminal_only"] = e.get("terminal_only", False)
    f["full_outage"] = e.get("full_outage", False)
    f.setdefault("severity", e.get("severity", "normal"))
    f.setdefault("status", "open")


def _incident(t: _Ticket, e: dict[str, Any]) -> None:
    f = t.facts
    f.update(kind="incident", category=e["category"], city=e["city"], reported_at=at(e["reported_at"]))
    f.update(opened_at=at(e["at"]), severity="severe", child_ticket_ids=sorted(set(e.get("child_ticket_ids", []))))
    f.setdefault("status", "open")


def _verified(t: _Ticket, e: dict[str, Any]) -> None:
    t.facts.update({k: e.get(k) for k in _SNAPSHOT if e.get(k) is not None})
    if e.get("assurance_level") is not None:
        t.facts["explicit_level"] = e["assurance_level"]


def _suspended(t: _Ticket, e: dict[str, Any]) -> None:
    if not t.suspensions or t.suspensions[-1][1] is not None:
        t.suspensions.append([at(e["at"]), None])


def _resumed(t: _Ticket, e: dict[str, Any]) -> None:
    if t.suspensions and t.suspensions[-1][1] is None:
        t.suspensions[-1][1] = at(e["at"])


def _resolved(t: _Ticket, e: dict[str, Any]) -> None:
    t.restorations.append(at(e["restored_at"]))
    t.facts.update(status="resolved", cause_category=e.get("cause_category"), resolved_at=at(e["at"]))


def _clock_started(t: _Ticket, e: dict[str, Any]) -> None:
    c = t.clock(e)
    c.setdefault("started_at", at(e["started_at"]))
    c["deadline"] = at(e["deadline"])


def _deadline_moved(t: _Ticket, e: dict[str, Any]) -> None:
    """A running clock's deadline moved (paused, resumed, exclusion, reopening, tier, recomputed): the queue
    counts down to the new one; while paused there is none (`paused`); a verdict's own deadline has the last word."""
    c = t.clock(e)
    if c["outcome"] is not None:
        return  # moved after its verdict (a late event): the verdict stands
    new = e.get("new_deadline")
    c["deadline"], c["paused"] = (at(new) if new else None), new is None


def _verdict(outcome: str):
    def apply(t: _Ticket, e: dict[str, Any]) -> None:
        c = t.clock(e)
        c["deadline"] = at(e["deadline"])
        c.pop("paused", None)
        c["verdict_counted"] = e.get("counted", True)
        if outcome == "breached":
            c["outcome"] = "breached"
            c["retroactive"] = c.get("retroactive", False) or e.get("retroactive", False)
            c.setdefault("breached_at", at(e["at"]))
        else:
            c["outcome"] = c["outcome"] or "met"
            c["stopped_at"], c["elapsed_seconds"] = at(e["stopped_at"]), e.get("elapsed_seconds")
        if e["clock"] == "follow_up" and outcome == "breached":
            t.follow_up.setdefault("reminder_at", at(e["at"]))

    return apply


def _excluded(t: _Ticket, e: dict[str, Any]) -> None:
    t.exclusions.append({"kind": e["kind"], "start": at(e["start"]), "end": at(e["end"])})


def _escalated(t: _Ticket, e: dict[str, Any]) -> None:
    t.escalations.append({"level": e["level"], "audience": e["audience"], "at": at(e["at"])})


def _satisfaction(t: _Ticket, e: dict[str, Any]) -> None:
    t.follow_up.update(
        satisfied=e["satisfied"], called_by=e.get("called_by"), method=e.get("method"),
        called_at=at(e["called_at"]) if e.get("called_at") else at(e["at"]),
    )  # fmt: skip


APPLY = {
    "TicketOpened": _opened,
    "IncidentOpened": _incident,
    "TicketVerified": _verified,
    "TicketTierChanged": lambda t, e: t.facts.update(tier=e["tier"]),
    "TicketDispatched": lambda t, e: [t.team(x) for x in e.get("teams", [])],
    "TicketTransferred": lambda t, e: t.team(e.get("to_team")),
    "TicketAccepted": lambda t, e: (t.team(e.get("team")), t.facts.setdefault("accepted_at", at(e["at"]))),
    "WorkItemResolved": lambda t, e: t.team(e.get("team")),
    "TicketSuspended": _suspended,
    "TicketResumed": _resumed,
    "ExclusionRecorded": _excluded,
    "TicketResolved": _resolved,
    "TicketReopened": lambda t, e: (t.reopenings.append(at(e["at"])), t.facts.update(status="open")),
    "TicketClosed": lambda t, e: t.facts.update(status="closed", closed_at=at(e["at"])),
    "TicketCancelled": lambda t, e: t.facts.update(status="cancelled", cancelled_at=at(e["at"])),
    "TicketSeverityChanged": lambda t, e: t.facts.update(severity=e["severity"], severe_marked_at=at(e["marked_at"])),
    "FaultReportRequested": lambda t, e: t.reports.append({"kind": "requested", "at": at(e["at"])}),
    "FaultReportSubmitted": lambda t, e: t.reports.append({"kind": e.get("kind", "customer"), "at": at(e["at"])}),
    "SatisfactionRecorded": _satisfaction,
    "EscalationRaised": _escalated,
    "SlaClockStarted": _clock_started,
    "SlaDeadlineMoved": _deadline_moved,
    "SlaMet": _verdict("met"),
    "SlaBreached": _verdict("breached"),
}


def ordered(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct entries (by event id, the first arrival kept) in time order, ties in order of arrival."""
    unique: dict[str, dict[str, Any]] = {}
    for e in entries:
        unique.setdefault(e["id"], e)
    return sorted(unique.values(), key=lambda e: (at(e["at"]), e["type"] not in _FIRST))


def fold(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The facts of one ticket from its entries, whatever their order and however often each was delivered."""
    t = _Ticket()
    for e in ordered(entries):
        handler = APPLY.get(e["type"])
        if handler is not None:
            handler(t, e)
    return _finish(t)


def is_operator_cause(cause: str | None) -> bool:
    return cause is None or CauseCategory(cause) in OPERATOR_CAUSES


def _finish(t: _Ticket) -> dict[str, Any]:
    f = dict(t.facts)
    status = f.setdefault("status", "open")
    f["teams"] = t.teams
    f["cause_operator"] = is_operator_cause(f.get("cause_category"))
    tier = f.get("tier")
    explicit = f.pop("explicit_level", None)
    f["assurance_level"] = explicit or (AssuranceLevel.of_tier(Tier(tier)).value if tier else None)
    f["severity"] = f.get("severity", "normal")
    f["severe_counted"] = f["severity"] == "severe" and f["cause_operator"]
    f["restored_at"] = t.restorations[-1] if t.restorations and status != "open" else None
    f["reopened"] = len(t.reopenings)
    f.update(_times(t, f))
    instances = sorted(t.clocks.values(), key=lambda c: (c["clock"], c["seq"], c["subject"] or ""))
    f["clocks"] = [_outcome(c, status, f["cause_operator"]) for c in instances]
    f["escalations"], f["fault_reports"] = t.escalations, t.reports
    f["follow_up"] = _follow_up(t, status)
    f.update(_periods(f.get("reported_at")))
    f["quality_year"] = quality_year(f)
    f["fault_counted"] = bool(
        f["restored_at"] and status in ("resolved", "closed") and f["cause_operator"]
        and not f.get("terminal_only") and f.get("service_line_id")
    )  # fmt: skip
    return f


def _times(t: _Ticket, f: dict[str, Any]) -> dict[str, Any]:
    starts = [x for x in (f.get("reported_at"), f.get("alarm_at")) if x is not None]
    start = min(starts) if starts else None
    end = f["restored_at"]
    suspensions: list[Interval] = [(s, e or end or s) for s, e in t.suspensions if s is not None]
    exclusions: list[Interval] = [(x["start"], x["end"]) for x in t.exclusions]
    gaps: list[Interval] = list(zip(t.restorations, t.reopenings, strict=False))
    out: dict[str, Any] = {
        "outage_started_at": start,
        "suspensions": [{"start": s, "end": e} for s, e in t.suspensions],
        "exclusions": t.exclusions,
        "suspended_seconds": None, "excluded_seconds": None, "restore_gross_seconds": None,
        "restore_net_seconds": None,
    }  # fmt: skip
    if start is None or end is None:
        return out
    window = (start, max(start, end))
    gross = (window[1] - window[0]).total_seconds()
    not_counted = seconds(clipped(suspensions + exclusions + gaps, window))
    out.update(
        suspended_seconds=seconds(clipped(suspensions, window)),
        excluded_seconds=seconds(clipped(exclusions, window)),
        restore_gross_seconds=gross,
        restore_net_seconds=gross - not_counted,
    )
    return out


def _outcome(c: dict[str, Any], status: str, operator: bool) -> dict[str, Any]:
    c = dict(c)
    if c["outcome"] is None:
        ended = status == "cancelled" or (status != "open" and c["clock"] in WORK_IN_HAND)
        c["outcome"] = "cancelled" if ended else "running"
    counted = c.pop("verdict_counted", True)
    c["counted"] = c["outcome"] in ("met", "breached") and counted and (c["clock"] != "restore" or operator)
    return c


def _follow_up(t: _Ticket, status: str) -> dict[str, Any]:
    out = dict(t.follow_up)
    if "satisfied" in out:
        out["status"] = "recorded"
    elif "reminder_at" in out:
        out["status"] = "reminded"
    elif status == "closed":
        out["status"] = "owed"
    else:
        out["status"] = "none"
    return out


def _periods(reported_at: datetime | None) -> dict[str, Any]:
    if reported_at is None:
        return {"day": None, "month": None, "quarter": None, "year": None}
    local = reported_at.astimezone(SHANGHAI)
    return {
        "day": local.date().isoformat(),  # four-digit years, as the rollups' buckets (strftime's %Y does not pad)
        "month": local.date().isoformat()[:7],
        "quarter": f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}",
        "year": f"{local.year:04d}",
    }


def quality_year(facts: dict[str, Any]) -> int | None:
    """The Shanghai calendar year a fault counts in: the year its restore clock (outage) started (as sla-watch)."""
    start = facts.get("outage_started_at")
    return start.astimezone(SHANGHAI).year if start else None
