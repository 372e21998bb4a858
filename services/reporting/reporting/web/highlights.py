"""The queue's highlights, pure: the moments from which a row is marked `progress-due`, `escalated` or `breached`
(issue 14: "see the progress due, escalation and breach highlighted"), from a ticket's facts. No I/O, `now` is given.

A row carries every mark with its absolute moment (`at`); the browser (static/dashboard.js, `marks`) switches each
on once the server-corrected clock passes it, so the page needs no round trip; `active` gives the first render.

- `progress-due`: the latest instance of a progress clock (internal progress, every 30 min for every tier, seed 000
  rule 4; the customer cadence of 表73, gold 30 min / silver 1 h) is past its deadline — running, or already
  breached and no note since (sla-watch starts the next instance only with the next note).
- `escalated`: an `EscalationRaised` arrived (level 0 leadership notice, 1 director, 2 deputy GM), or the escalation
  moment passed: 120 and 180 minutes of processing time (seed 000 rule 7) from the restore clock's start, later by
  the time suspended. sla-watch announces no escalation deadline (its escalation clocks speak only through their
  timers), so the moment is derived here from the restore clock and the two numbers below, which mirror
  `escalation` in sla-watch's policy (services/sla-watch/sla_watch/policy/sla-policy.yaml).
- `breached`: the restore clock (业务恢复时限, 表72) is past its deadline, or sla-watch said it breached.

Progress and escalation are work in hand: they mark open tickets only. A resolved ticket keeps `breached` (a miss
stays a miss). Not derived here: the time between a restoration and a reopening, which sla-watch leaves out of the
escalation clocks too (a reopened ticket's derived moment may come early; an escalation that arrived stands).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

PROGRESS_CLOCKS = ("internal_progress", "progress")
# seed 000 值班工作要求 7 "120分钟处理未结束的及时上报分公司客响中心主任",
# "180分钟未处理结束的及时上报分公司分管运维副总"
ESCALATION_AFTER = {1: timedelta(minutes=120), 2: timedelta(minutes=180)}
MARKS = ("progress-due", "escalated", "breached")  # the row classes, in the order a ticket usually meets them
LABELS = {0: "mark.escalated_leadership", 1: "mark.escalated_director", 2: "mark.escalated_deputy_gm"}


def _mark(name: str, at: datetime, label: str, rank: int = 0, clock: str | None = None) -> dict[str, Any]:
    return {"mark": name, "at": at, "label": label, "rank": rank, "clock": clock}


def _latest(clocks: Iterable[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    instances = [c for c in clocks if c.get("clock") == kind]
    return max(instances, key=lambda c: c.get("seq", 1), default=None)


def _due(clock: dict[str, Any] | None) -> datetime | None:
    """When this clock instance is (or was) overdue: its deadline while running or after a breach; else never."""
    if clock is None or not clock.get("deadline"):
        return None
    if clock.get("outcome") == "breached":
        return min(clock["deadline"], clock.get("breached_at") or clock["deadline"])
    return clock["deadline"] if clock.get("outcome") == "running" else None


def escalation_at(facts: dict[str, Any], level: int) -> datetime | None:
    """The moment of escalation `level` (1, 2): the restore clock's start plus its minutes of processing time, later
    by each suspension that began before it; None while suspended (escalation pauses) or with no restore start."""
    restore = _latest(facts.get("clocks", []), "restore")
    start = (restore or {}).get("started_at") or facts.get("outage_started_at")
    if start is None:
        return None
    moment = start + ESCALATION_AFTER[level]
    for s in sorted(facts.get("suspensions") or [], key=lambda s: s["start"]):
        if s["start"] >= moment:
            break
        if s.get("end") is None:
            return None  # suspended now: the moment is not known until the resume
        moment += max(timedelta(0), s["end"] - max(s["start"], start))
    return moment


def marks(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Every mark this ticket's row carries, each with the moment from which it holds, in MARKS order (escalations
    by level), so the badges keep their places as they come on."""
    clocks = facts.get("clocks", [])
    out: list[dict[str, Any]] = []
    if facts.get("status", "open") == "open":
        dues = [(at, kind) for kind in PROGRESS_CLOCKS if (at := _due(_latest(clocks, kind))) is not None]
        if dues:
            at, kind = min(dues)
            out.append(_mark("progress-due", at, "mark.progress_due", clock=kind))
        raised: dict[int, datetime] = {}
        for e in facts.get("escalations") or []:
            level = int(e.get("level", 1))
            raised[level] = min(raised.get(level, e["at"]), e["at"])
        for level in ESCALATION_AFTER:
            derived = escalation_at(facts, level)
            if derived is not None:
                raised[level] = min(raised.get(level, derived), derived)
        out += [_mark("escalated", at, LABELS.get(level, LABELS[1]), rank=level) for level, at in raised.items()]
    restore = _due(_latest(clocks, "restore"))
    if restore is not None and facts.get("status", "open") in ("open", "resolved"):
        out.append(_mark("breached", restore, "mark.breached", clock="restore"))
    return sorted(out, key=lambda m: (MARKS.index(m["mark"]), m["rank"], m["at"]))


def active(row_marks: Iterable[dict[str, Any]], now: datetime) -> list[str]:
    """The row's classes at `now`: the marks whose moment has come, in MARKS order."""
    on = {m["mark"] for m in row_marks if m["at"] <= now}
    return [name for name in MARKS if name in on]


def shown(row_marks: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The badges visible at `now`: each active mark once, an escalation at its highest level reached."""
    best: dict[str, dict[str, Any]] = {}
    for m in row_marks:
        if m["at"] <= now and (m["mark"] not in best or m["rank"] > best[m["mark"]]["rank"]):
            best[m["mark"]] = m
    return [best[name] for name in MARKS if name in best]


def decorate(rows: list[dict[str, Any]], facts: Iterable[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Give each queue row its marks, first-render classes and visible badges (rows of reporting.web.queue)."""
    by_id = {f["_id"]: f for f in facts}
    for r in rows:
        r["marks"] = marks(by_id.get(r["ticket_id"], {}))
        r["classes"] = active(r["marks"], now)
        visible = {id(m) for m in shown(r["marks"], now)}
        for m in r["marks"]:
            m["visible"] = id(m) in visible
    return rows
