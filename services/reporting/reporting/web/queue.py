"""The open queue, pure: a ticket's facts (reporting.domain.facts) as a row with its next deadline and how much of
that deadline's allowance is used; filters and the order by time to breach. No I/O, `now` is given.

The browser recomputes the same share every second (static/dashboard.js, `level`), from the absolute deadline and
start the row carries and the server's clock sent with the page; this module gives the first render and the tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# Share of a deadline's allowance used at which the countdown changes colour (issue 14: "coloured by share of
# allowance used (50 / 75 / 100 %)").
THRESHOLDS = ((1.0, "breach"), (0.75, "late"), (0.5, "half"))
OPEN = ("open", "resolved")  # in the queue: not closed or cancelled (a resolved ticket still waits for its close)
FILTERS = ("team", "tier", "city", "state")


def share(started: datetime, deadline: datetime, now: datetime) -> float:
    """Share of the allowance (start → deadline) used at `now`; an allowance of zero is all used."""
    allowance = (deadline - started).total_seconds()
    if allowance <= 0:
        return 1.0
    return max(0.0, (now - started).total_seconds() / allowance)


def level(used: float) -> str:
    """The countdown's colour class: `ok` below 50 %, `half` from 50 %, `late` from 75 %, `breach` from 100 %."""
    return next((name for bound, name in THRESHOLDS if used >= bound), "ok")


def state_of(facts: dict[str, Any]) -> str:
    """What the queue shows of where a ticket is (from the facts; dispatch holds the finer states)."""
    if facts.get("status") == "resolved":
        return "resolved"
    if facts.get("accepted_at"):
        return "accepted"
    return "dispatched" if facts.get("teams") else "new"


def next_clock(facts: dict[str, Any]) -> dict[str, Any] | None:
    """The running clock due first (a clock without a verdict yet), or None."""
    running = [c for c in facts.get("clocks", []) if c.get("outcome") == "running" and c.get("deadline")]
    return min(running, key=lambda c: c["deadline"], default=None)


def next_deadline(facts: dict[str, Any]) -> datetime | None:
    """The deadline of the running clock due first, None without one: stored with the facts (`next_deadline`) so
    the database orders the queue (reporting.store.open_queue) by the rule `queue` orders its rows by."""
    clock = next_clock(facts)
    return clock["deadline"] if clock is not None else None


def queue_teams(facts: dict[str, Any]) -> list[str] | None:
    """The teams of a ticket in the queue (`OPEN`), None once it left it: stored with the facts (`queue_teams`) so
    a team's queue is read by an index of the open tickets only (reporting.store.open_queue)."""
    return list(facts.get("teams", [])) if facts.get("status", "open") in OPEN else None


def row(facts: dict[str, Any], now: datetime) -> dict[str, Any]:
    clock = next_clock(facts)
    out: dict[str, Any] = {
        "ticket_id": facts["_id"], "tier": facts.get("tier"), "city": facts.get("city"),
        "teams": list(facts.get("teams", [])), "state": state_of(facts), "category": facts.get("category"),
        "kind": facts.get("kind", "ticket"), "reported_at": facts.get("reported_at"), "clock": None,
    }  # fmt: skip
    if clock is not None:
        started = clock.get("started_at") or clock["deadline"]
        used = share(started, clock["deadline"], now)
        out["clock"] = {
            "kind": clock["clock"], "subject": clock.get("subject"), "started_at": started,
            "deadline": clock["deadline"], "share": used, "level": level(used),
            "remaining_seconds": (clock["deadline"] - now).total_seconds(),
        }  # fmt: skip
    return out


def matches(r: dict[str, Any], filters: dict[str, str]) -> bool:
    for key, wanted in filters.items():
        if not wanted:
            continue
        if key == "team":
            if wanted not in r["teams"]:
                return False
        elif str(r.get(key)) != wanted:
            return False
    return True


def queue(facts: list[dict[str, Any]], now: datetime, filters: dict[str, str]) -> list[dict[str, Any]]:
    """The rows that match, by time to breach: the nearest deadline first (overdue ones at the top), tickets
    without a running clock last, ties by ticket id."""
    rows = [r for r in (row(f, now) for f in facts if f.get("status", "open") in OPEN) if matches(r, filters)]
    far = float("inf")
    return sorted(rows, key=lambda r: (r["clock"]["remaining_seconds"] if r["clock"] else far, r["ticket_id"]))


def choices(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The values each filter can take among these rows (the filter menus)."""
    out: dict[str, set[str]] = {k: set() for k in FILTERS}
    for r in rows:
        out["team"].update(r["teams"])
        for key in ("tier", "city", "state"):
            if r.get(key):
                out[key].add(str(r[key]))
    return {k: sorted(v) for k, v in out.items()}
