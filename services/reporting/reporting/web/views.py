"""The dashboard's incident, breach, escalation and notification lists, pure: rows from ticket facts
(reporting.domain.facts) and notification outcomes, filters and order. No I/O; who may read what is decided by the
caller (`huying.access.reads_ticket`) and passed in as `readable`.

An incident (DOMAIN.md "Mass outage"; intake's correlation) is a parent ticket of kind `incident`: 3 or more ordinary
customers reporting a full outage of the same service in one city within 30 minutes. Its children are the tickets
it listed when it opened (`child_ticket_ids`: the reporters that made it) and the tickets opened later naming it
(`parent_incident_id`); further ordinary reports inside it open no ticket of their own, they are linked to it
(ReportLinked, link `incident_child`) and counted as linked reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from reporting.web import queue as q

FILTERS = ("team", "tier", "city")
ENDED = ("closed", "cancelled")


def state_of(facts: dict[str, Any]) -> str:
    """The queue's state of a ticket, and `closed` / `cancelled` once it left the queue."""
    status = facts.get("status")
    return status if status in ENDED else q.state_of(facts)


def child_ids(incident: dict[str, Any], naming: Iterable[dict[str, Any]]) -> list[str]:
    """An incident's child tickets: those it listed when it opened and those naming it as their parent."""
    ids = set(incident.get("child_ticket_ids") or [])
    ids.update(f["_id"] for f in naming if f.get("parent_incident_id") == incident["_id"])
    ids.discard(incident["_id"])
    return sorted(ids)


def product_family(children: Iterable[dict[str, Any]]) -> str | None:
    """The service an incident is about, as CRM names it: its children's product family (the most common one; the
    incident's own event carries only the category)."""
    counted = Counter(c["product_family"] for c in children if c.get("product_family"))
    return min(counted, key=lambda name: (-counted[name], name)) if counted else None


def incident_row(
    incident: dict[str, Any], children: dict[str, dict[str, Any]], readable: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    """An incident with its children (ticket, tier, city, state), or None when the operator may read neither the
    incident nor any of its children. Children the operator may not read are counted, not listed."""
    ids = child_ids(incident, children.values())
    known = [children[i] for i in ids if i in children]
    shown = [c for c in known if readable(c)]
    if not readable(incident) and not shown:
        return None
    return {
        "incident_id": incident["_id"], "city": incident.get("city"), "category": incident.get("category"),
        "product_family": product_family(known), "started_at": incident.get("reported_at"),
        "status": incident.get("status", "open"), "severity": incident.get("severity"),
        "teams": list(incident.get("teams", [])), "reason": incident.get("reason"),
        "linked_reports": incident.get("linked_reports", 0), "children_count": len(ids),
        "hidden_children": len(ids) - len(shown),
        "children": sorted(
            ({"ticket_id": c["_id"], "tier": c.get("tier"), "city": c.get("city"), "state": state_of(c),
              "teams": list(c.get("teams", []))} for c in shown),
            key=lambda c: c["ticket_id"],
        ),
    }  # fmt: skip


def incidents(rows: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Open incidents first, then the newest first."""
    kept = [r for r in rows if r is not None]
    kept.sort(key=lambda r: (_iso(r["started_at"]), r["incident_id"]), reverse=True)
    return sorted(kept, key=lambda r: r["status"] in ENDED)


def _ticket(facts: dict[str, Any]) -> dict[str, Any]:
    return {"ticket_id": facts["_id"], "tier": facts.get("tier"), "city": facts.get("city"),
            "teams": list(facts.get("teams", [])), "kind": facts.get("kind", "ticket")}  # fmt: skip


def breach_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Each breached clock instance of a ticket: clock, cause category (`unresolved` before a resolution, as
    kpis.breaches), when it was breached (the verdict's time, else its deadline) and whether it counts in the KPIs
    (a cancelled ticket's breaches never do)."""
    cause = facts.get("cause_category") or "unresolved"
    live = facts.get("status") != "cancelled"
    return [
        {**_ticket(facts), "clock": c["clock"], "seq": c.get("seq", 1), "subject": c.get("subject"), "cause": cause,
         "at": c.get("breached_at") or c.get("deadline"), "deadline": c.get("deadline"),
         "counted": bool(c.get("counted")) and live, "retroactive": bool(c.get("retroactive"))}
        for c in facts.get("clocks", []) if c.get("outcome") == "breached"
    ]  # fmt: skip


def escalation_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Each escalation raised on a ticket: level (1 director at 120 min, 2 deputy GM at 180 min, 0 leadership at
    once), audience and when."""
    return [{**_ticket(facts), "level": e.get("level"), "audience": e.get("audience"), "at": e.get("at")}
            for e in facts.get("escalations", [])]  # fmt: skip


def _iso(at: Any) -> str:
    return at.isoformat() if isinstance(at, datetime) else str(at or "")


def _when(row: dict[str, Any]) -> str:
    return _iso(row.get("at"))


def newest_first(rows: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most `limit` rows, the newest first (ties by ticket id, so the order is stable)."""
    ordered = sorted(rows, key=lambda r: r.get("ticket_id") or "")
    return sorted(ordered, key=_when, reverse=True)[:limit]


def filtered(rows: Iterable[dict[str, Any]], filters: dict[str, str]) -> list[dict[str, Any]]:
    return [r for r in rows if q.matches(r, filters)]


def choices(rows: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """The values each filter (team, tier, city) can take among these rows."""
    out: dict[str, set[str]] = {k: set() for k in FILTERS}
    for r in rows:
        out["team"].update(r.get("teams", []))
        for key in ("tier", "city"):
            if r.get(key):
                out[key].add(str(r[key]))
    return {k: sorted(v) for k, v in out.items()}


def notification_rows(outcomes: Iterable[dict[str, Any]], texts: dict[str, dict[str, Any]] | None,
                      outcome: str = "") -> list[dict[str, Any]]:  # fmt: skip
    """Notification outcomes as the outbox shows them, newest first, with notify's message text where notify
    answered (`texts` by notification id; None when it did not)."""
    rows = []
    for doc in outcomes:
        if outcome and doc.get("outcome") != outcome:
            continue
        extra = (texts or {}).get(doc["_id"], {})
        rows.append({
            "notification_id": doc["_id"], "ticket_id": doc.get("ticket_id"), "channel": doc.get("channel"),
            "recipient_role": doc.get("recipient_role"), "outcome": doc.get("outcome"),
            "attempts": doc.get("attempts"), "error": doc.get("error"), "at": doc.get("at"),
            "text": extra.get("text"), "notify_state": extra.get("state"),
        })  # fmt: skip
    return sorted(rows, key=lambda r: (_when(r), r["notification_id"]), reverse=True)
