"""Severe faults classified as they happen (seed 003 一、集团客户严重故障定义; DOMAIN.md "Severe faults"): which
faults carry the severe mark, and when it passes. The mark is a timer-only clock from the outage's start (report
or alarm, whichever is first) that stops at restoration; when it passes, sla-watch raises TicketSeverityChanged.
A fault proven not the operator's is still marked (respond at severe level first); reporting does not count it.
"""

from __future__ import annotations

from datetime import datetime

from huying.events import Category, ClockKind, CustomerGrade, Scope
from sla_watch.domain.ledger import Ticket
from sla_watch.domain.spans import Span

# The mark's subject names the rule that made the fault severe (TicketSeverityChanged.reason).
IMPORTANT_30_MIN, INTER_CITY_CIRCUIT_8_H = "important_customer", "non_diamond_inter_city_circuit"
SEVERE_REASONS = {
    IMPORTANT_30_MIN: "重要集团客户业务全阻超过30分钟 (an important customer's service fully down over 30 min)",
    INTER_CITY_CIRCUIT_8_H: "跨市专线非钻石级集团客户电路全阻超过8小时 (a non-diamond inter-city circuit down 8 h)",
}
IMPORTANT_GRADES = frozenset({CustomerGrade.PROVINCIAL, CustomerGrade.CITY_DIAMOND})
WIDE_SCOPES = frozenset({Scope.INTER_CITY, Scope.INTER_PROVINCE})
CIRCUIT = "circuit"  # the product family of a leased circuit (电路出租)


def severe_mark(t: Ticket) -> tuple[str, Span] | None:
    """Whether the fault becomes severe if it lasts (seed 003 一): a full outage of an important customer —
    provincial or city diamond in CRM, or any customer of an inter-city or inter-province line. The mark is 30
    minutes of outage; a leased circuit (电路出租) across cities of a customer that is neither diamond nor
    provincial is marked after 8 hours. A line of unknown product family is timed at 30 minutes: when in doubt,
    respond at severe level first (seed 003 注)."""
    if t.severe or not t.full_outage:
        return None
    important_grade = t.grade in IMPORTANT_GRADES
    if not important_grade and t.scope not in WIDE_SCOPES:
        return None
    rule = t.policy.severe_fault
    circuit = (
        not important_grade and t.scope is Scope.INTER_CITY and t.category is Category.ACCESS
        and t.product_family == CIRCUIT
    )  # fmt: skip
    return (INTER_CITY_CIRCUIT_8_H if circuit else IMPORTANT_30_MIN), rule.mark(inter_city_circuit=circuit)


def mark_severe(t: Ticket, *, floor: datetime | None = None) -> None:
    """Start the severe mark from the outage's start, once per ticket, if the fault qualifies (it passes the mark
    by its timer, not at opening). `floor`: facts learned late never make it fire before they were known."""
    found = severe_mark(t)
    if found is None or t.status != "open" or any(c.kind is ClockKind.SEVERITY for c in t.clocks):
        return
    rule, span = found
    clock = t.start(ClockKind.SEVERITY, t.restore_start, subject=rule, span=span)
    if clock is not None and floor is not None:
        clock.floor = floor
