"""Network quality per service line per year against its budget (DOMAIN.md 表75, by the line's assurance level).

Counted as sla-watch counts (docs/sla-watch.md "Quality budgets"): a fault is a resolved ticket on the line whose
cause is the operator's, not terminal-only, not cancelled; its outage is the restore clock's counted time; the year
is the Shanghai year in which its outage started. "Repeat faults ≤ 4" is read, like sla-watch, as at most four
faults in the year, the first included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# 表75 "Network quality per service line per year": repeat faults on the same line ≤ 4 / 6 / 8 / 10, total outage
# ≤ 6 / 12 / 24 / 48 h (gold/AAA, silver/AA, bronze/A, standard/普通).
BUDGETS: dict[str, dict[str, float]] = {
    "AAA": {"repeat_faults": 4, "outage_hours": 6.0},
    "AA": {"repeat_faults": 6, "outage_hours": 12.0},
    "A": {"repeat_faults": 8, "outage_hours": 24.0},
    "ordinary": {"repeat_faults": 10, "outage_hours": 48.0},
}


def line_year(facts: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Faults and outage hours of one line's counted faults in one year (each ticket once)."""
    counted = {f["_id"] if "_id" in f else f["ticket_id"]: f for f in facts if f.get("fault_counted")}
    hours = sum((f.get("restore_net_seconds") or 0.0) for f in counted.values()) / 3600
    return {"repeat_faults": len(counted), "outage_hours": hours}


def against_budget(level: str | None, used: Mapping[str, float]) -> dict[str, Any]:
    """Each measure's use, budget and state: `within`, `exceeded` (above the budget, as sla-watch's
    QualityBudgetExceeded)."""
    budget = BUDGETS.get(level or "ordinary", BUDGETS["ordinary"])
    out: dict[str, Any] = {}
    for measure, limit in budget.items():
        value = float(used.get(measure, 0))
        out[measure] = {"used": value, "budget": limit, "exceeded": value > limit, "ratio": value / limit}
    return out
