"""The KPIs the center is judged by (DOMAIN.md "KPIs the center is judged by"; seed 000 考核制度, 季报制度): each
formula's numerator, denominator and exclusions, as pure functions of one ticket's facts (reporting.domain.facts).

A ticket *contributes* to each KPI (`contributions`); a group's KPI is the sum of its tickets' contributions
(`totals`, also what the database's `$group` computes) turned into rates (`figures`). "Each rate is met on time ÷
due in the period, net of excluded time; the seeds give no target percentages": a clock instance is *due* when it
has a verdict (met or breached), so a running clock is not yet due and a cancelled one never is. A cancelled
ticket (opened in error) contributes nothing. The period of a ticket is the one in which it was reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Contribution = dict[str, Any]


def _clock(facts: Mapping[str, Any], clock: str, *, counted_only: bool = True) -> dict[str, int]:
    """met ÷ due over the ticket's instances of one clock; due = a verdict that counts."""
    if facts.get("status") == "cancelled":
        return {"met": 0, "due": 0}
    verdicts = [c for c in facts.get("clocks", []) if c["clock"] == clock and c["outcome"] in ("met", "breached")]
    if counted_only:
        verdicts = [c for c in verdicts if c["counted"]]
    return {"met": sum(c["outcome"] == "met" for c in verdicts), "due": len(verdicts)}


def acceptance_within_10_min(facts: Mapping[str, Any]) -> dict[str, int]:
    """Work items accepted (签收) in time ÷ work items whose acceptance clock has a verdict (one per team and
    dispatch). DOMAIN.md "Ticket lifecycle": "The receiving department accepts within 10 minutes" (seed 001
    "工单接收部门应在10分钟内接收工单")."""
    return _clock(facts, "acceptance")


def contact_result_within_15_min(facts: Mapping[str, Any]) -> dict[str, int]:
    """Contact results reported in time ÷ contact clocks with a verdict (reached or not reached both meet it).
    DOMAIN.md: "Within 15 minutes of dispatch, report the result of contacting the reporting customer" (seed 000
    "反馈维护人员与报障用户联系结果")."""
    return _clock(facts, "contact")


def internal_progress_every_30_min(facts: Mapping[str, Any]) -> dict[str, int]:
    """Progress notes appended in time ÷ internal-progress instances with a verdict, every ticket whatever its
    tier. DOMAIN.md: "Every 30 minutes, for every ticket whatever its tier, the handler appends progress" (seed 000
    rule 4)."""
    return _clock(facts, "internal_progress")


def customer_cadence(facts: Mapping[str, Any]) -> dict[str, int]:
    """Proactive progress updates to the customer in time ÷ those due; gold (30 min) and silver (1 h) only, the
    other tiers are on demand. DOMAIN.md 表73 "during handling: proactively every 30 min / every 1 h"."""
    if facts.get("tier") not in ("gold", "silver"):
        return {"met": 0, "due": 0}
    return _clock(facts, "progress")


def restore_within_limit(facts: Mapping[str, Any]) -> dict[str, int]:
    """Restore verdicts met ÷ restore verdicts that count: only faults whose cause is the operator's (`counted`:
    the verdict's flag and the resolution's cause category); customer-caused and interconnection time is already
    out of the clock. DOMAIN.md 表71/72 "Restore time limit" and "Only the operator's equipment counts" (seed 001
    表72 "该时限仅针对移动公司负责管理的设备引起的故障")."""
    return _clock(facts, "restore")


def cause_and_result_within_30_min(facts: Mapping[str, Any]) -> dict[str, int]:
    """Cause and result told to the customer in time ÷ feedback clocks with a verdict. DOMAIN.md 表73 "cause and
    result: verbally within 30 min after resolution"."""
    return _clock(facts, "feedback")


def internal_report_within_2_wd(facts: Mapping[str, Any]) -> dict[str, int]:
    """Internal fault reports on time ÷ those due, every fault. DOMAIN.md "The internal written fault report is
    due within 2 working days for every fault" (seed 000 rule 10)."""
    return _clock(facts, "internal_report")


def remediation_within_1_wd(facts: Mapping[str, Any]) -> dict[str, int]:
    """Remediation items (整治工作) on time ÷ those owed (only after a late internal report). DOMAIN.md "when it is
    late, a remediation item is due within 1 working day of the miss" (seed 000 rule 10)."""
    return _clock(facts, "remediation")


def customer_report_on_time(facts: Mapping[str, Any]) -> dict[str, int]:
    """Written reports to the customer on time ÷ those due (gold proactively in 2 WD, silver on request in 7 days).
    DOMAIN.md 表74 "Written fault report"."""
    return _clock(facts, "written_report")


def mttr(facts: Mapping[str, Any]) -> dict[str, float]:
    """Restore time net of suspended and excluded time (and of the time between a restoration and a reopening),
    summed over restored faults whose cause is the operator's; mean = seconds ÷ tickets. DOMAIN.md "Time while
    suspended does not count", 表71 "Time caused by the customer or by interconnection … does not count"."""
    net = facts.get("restore_net_seconds")
    if net is None or facts.get("status") == "cancelled" or not facts.get("cause_operator"):
        return {"tickets": 0, "seconds": 0.0}
    return {"tickets": 1, "seconds": float(net)}


def satisfaction(facts: Mapping[str, Any]) -> dict[str, int]:
    """satisfied ÷ tickets with a follow-up record (× 100 % in `figures`); a ticket without a record is left out.
    DOMAIN.md "Satisfaction": "tickets the customer rated satisfied ÷ tickets with a follow-up record × 100 %"."""
    record = facts.get("follow_up") or {}
    if "satisfied" not in record or facts.get("status") == "cancelled":
        return {"satisfied": 0, "records": 0}
    return {"satisfied": int(bool(record["satisfied"])), "records": 1}


def severe_faults(facts: Mapping[str, Any]) -> dict[str, int]:
    """Severe faults counted (not those proven not the operator's) and in all. DOMAIN.md "Severe faults": "a severe
    fault later proven not to be the operator's is not counted as severe in the KPIs" (seed 003 注)."""
    if facts.get("severity") != "severe" or facts.get("status") == "cancelled":
        return {"counted": 0, "total": 0}
    return {"counted": int(bool(facts.get("severe_counted"))), "total": 1}


def breaches(facts: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every breached clock instance with the ticket's cause category (`unresolved` before a resolution), counted
    or not, so a breach can be read against its cause. DOMAIN.md "KPIs": fault handling timeliness."""
    if facts.get("status") == "cancelled":
        return []
    cause = facts.get("cause_category") or "unresolved"
    return [{"clock": c["clock"], "cause": cause} for c in facts.get("clocks", []) if c["outcome"] == "breached"]


RATES = {
    "acceptance_within_10_min": acceptance_within_10_min,
    "contact_result_within_15_min": contact_result_within_15_min,
    "internal_progress_every_30_min": internal_progress_every_30_min,
    "customer_cadence": customer_cadence,
    "restore_within_limit": restore_within_limit,
    "cause_and_result_within_30_min": cause_and_result_within_30_min,
    "internal_report_within_2_wd": internal_report_within_2_wd,
    "remediation_within_1_wd": remediation_within_1_wd,
    "customer_report_on_time": customer_report_on_time,
}
COUNTS = {"mttr": mttr, "satisfaction": satisfaction, "severe_faults": severe_faults}


def contributions(facts: Mapping[str, Any]) -> Contribution:
    """What one ticket adds to every KPI (stored with its facts, summed by the database)."""
    out: Contribution = {name: formula(facts) for name, formula in {**RATES, **COUNTS}.items()}
    out["tickets"] = 0 if facts.get("status") == "cancelled" else 1
    return out


def team_share(facts: Mapping[str, Any], team: str | None) -> dict[str, Any]:
    """The ticket as one of its teams sees it: a clock about another of the ticket's teams (a per-team acceptance)
    is that team's; the ticket-wide clocks (restore, feedback, reports …) are every team's."""
    others = set(facts.get("teams") or []) - {team}
    return {**facts, "clocks": [c for c in facts.get("clocks", []) if c.get("subject") not in others]}


def by_team(facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per team that had a work item (or one share without a team), its contributions and breaches: what a
    grouping or a filter by team sums, so a multi-team ticket's per-team clocks count for their own team only."""
    out = []
    for team in facts.get("teams") or [None]:
        share = team_share(facts, team)
        out.append({"team": team, "kpi": contributions(share), "breaches": breaches(share)})
    return out


def totals(items: Iterable[Contribution]) -> Contribution:
    """The sum of contributions, leaf by leaf (the reference for the database's `$group`)."""
    out: Contribution = {}
    for item in items:
        _add(out, item)
    return out


def _add(into: dict[str, Any], item: Mapping[str, Any]) -> None:
    for key, value in item.items():
        if isinstance(value, Mapping):
            _add(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value


def leaves(template: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every number in a contribution (what `$group` sums)."""
    out = []
    for key, value in template.items():
        path = f"{prefix}{key}"
        out += leaves(value, f"{path}.") if isinstance(value, Mapping) else [path]
    return out


def rate(numerator: float, denominator: float) -> float | None:
    """numerator ÷ denominator, None when nothing was due (not 0 %, not 100 %)."""
    return None if denominator == 0 else numerator / denominator


def figures(summed: Mapping[str, Any]) -> dict[str, Any]:
    """The KPIs of a group from its summed contributions."""
    out: dict[str, Any] = {"tickets": summed.get("tickets", 0)}
    for name in RATES:
        c = summed.get(name, {})
        met, due = c.get("met", 0), c.get("due", 0)
        out[name] = {"met": met, "due": due, "rate": rate(met, due)}
    m = summed.get("mttr", {})
    mean = rate(m.get("seconds", 0.0), m.get("tickets", 0))
    out["mttr"] = {"tickets": m.get("tickets", 0), "net_seconds": m.get("seconds", 0.0), "mean_seconds": mean}
    s = summed.get("satisfaction", {})
    share = rate(s.get("satisfied", 0), s.get("records", 0))
    out["satisfaction"] = {
        "satisfied": s.get("satisfied", 0), "records": s.get("records", 0), "rate": share,
        "percent": None if share is None else round(share * 100, 2),
    }  # fmt: skip
    v = summed.get("severe_faults", {})
    out["severe_faults"] = {"counted": v.get("counted", 0), "total": v.get("total", 0)}
    return out
