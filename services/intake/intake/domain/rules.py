"""Channel rules (DOMAIN.md § Intake channels): enrichment from the CRM replica, hotline pre-processing,
terminal-only faults, the green channel, what identifies a fault and a reporter, and who counts toward a mass
outage (DOMAIN.md § Severe faults and mass outages)."""

from __future__ import annotations

from datetime import datetime

from huying.events import Category, Channel, CustomerGrade, Scope, Tier
from intake.domain.model import Arrival, Line, Master, Rules, Snapshot

# Attributes a source system may set on a report (documented in docs/intake.md).
FAQ_ANSWERED = "faq_answered"  # hotline agent answered a consultation from the FAQ (预处理)
TERMINAL_ONLY = "terminal_only"  # handset/terminal fault, no line or platform involved
FULL_OUTAGE = "full_outage"  # service fully down (全阻)
SEVERE = "severe"  # the source already judged it severe ("when in doubt, severe first")
CORE_NETWORK = "core_network"  # fault known to be in the core network
BACKFILL_TICKET = "backfill_ticket_id"  # formal record back-filling a green-channel ticket (补录)


def from_the_future(arrival: Arrival, now: datetime, rules: Rules) -> str | None:
    """Why an arrival's own time cannot be taken (it lies further ahead of now than the allowed clock skew: every
    deadline counts from it), or None. A time far in the past is taken: late reports are real."""
    if arrival.reported_at > now + rules.future_skew:
        ahead = (arrival.reported_at - now).total_seconds()
        allowed = rules.future_skew.total_seconds()
        return f"{arrival.reported_at.isoformat()} is {ahead:.0f} s ahead of intake's clock (allowed: {allowed:.0f} s)"
    return None


def reported_late(arrival: Arrival, now: datetime, rules: Rules) -> str | None:
    """Why an arrival is flagged late (its own time lies further behind now than `late_after`: taken, since late
    reports are real, but its clocks may be overdue at once and someone should know why), or None."""
    behind = now - arrival.reported_at
    if behind > rules.late_after:
        return f"reported {behind.total_seconds() / 3600:.1f} h before intake received it"
    return None


def city_of(arrival: Arrival, master: Master) -> str | None:
    """The fault's city: what the reporter or the NMS said, else the line's first endpoint, else the customer's."""
    if arrival.city_hint:
        return arrival.city_hint
    if master.line:
        return master.line.cities[0]
    return master.customer.city if master.customer else None


def is_verified(arrival: Arrival, master: Master) -> bool:
    """Every reference the report makes (customer, line, or the line's customer) is in the CRM replica."""
    if arrival.service_line_id and master.line is None:
        return False
    if (arrival.customer_id or master.line) and master.customer is None:
        return False
    return master.customer is not None


def enrich(arrival: Arrival, master: Master, rules: Rules) -> Snapshot:
    """The snapshot a ticket opens with: unknown master data → standard tier, unverified; terminal-only →
    standard; a gold/silver full outage is flagged for leadership."""
    customer, line = master.customer, master.line
    verified = is_verified(arrival, master)
    tier = customer.tier if customer else Tier.STANDARD
    if arrival.flag(TERMINAL_ONLY):
        tier = Tier.STANDARD
    full_outage = arrival.flag(FULL_OUTAGE) or arrival.alarm_severity == "critical"
    category = line.category if line else (arrival.category_hint or Category.ACCESS)
    return Snapshot(
        customer_id=arrival.customer_id or (line.customer_id if line else None),
        service_line_id=arrival.service_line_id,
        tier=tier,
        scope=line.scope if line else Scope.INTRA_CITY,
        category=category,
        city=city_of(arrival, master),
        verified=verified,
        full_outage=full_outage,
        leadership_notice=full_outage and tier in rules.leadership_tiers,
        severe=arrival.flag(SEVERE),
        core_network=arrival.flag(CORE_NETWORK),
        customer_grade=customer.grade if customer else None,
        assurance_level=line.assurance_level if line else None,
        product_family=line.product_family if line else None,
        service=service_family(line, category, rules),
        terminal_only=arrival.flag(TERMINAL_ONLY),
    )


def service_family(line: Line | None, category: Category, rules: Rules) -> str:
    """Seed 003's "the same service" (某一业务): the line's product family as CRM says, else the family of its
    product name (`rules.product_families`, first keyword found wins), else the category — so a report without a
    line, or a product nobody mapped, still correlates with its like (access with access, overlay with overlay)."""
    if line and line.product_family:
        return line.product_family
    product = line.product if line else ""
    return next((family for keyword, family in rules.product_families if keyword in product), str(category))


def may_be_ordinary(snapshot: Snapshot) -> bool:
    """What the snapshot alone says about an ordinary customer (普通集团客户, seed 003): known to CRM, of grade
    ordinary, on an intra-city line. Whether the customer has an inter-city or inter-province line elsewhere is
    the other half (`is_ordinary`), asked of the replica only when this holds."""
    return snapshot.customer_grade is CustomerGrade.ORDINARY and snapshot.scope is Scope.INTRA_CITY


def is_ordinary(snapshot: Snapshot, *, wide_line: bool) -> bool:
    """An ordinary customer: not important. Important (重要集团客户, seed 003) are provincial-level and city-level
    diamond customers (CRM's grade) and every customer with an inter-city or inter-province line (`wide_line`:
    any of the customer's lines, this one included). A customer unknown to CRM is neither: it is not counted."""
    return may_be_ordinary(snapshot) and not wide_line


def is_important(snapshot: Snapshot, *, wide_line: bool) -> bool:
    """An important customer (seed 003): severe on its own (sla-watch's 30-minute mark), never folded into an
    incident's ticket."""
    return snapshot.customer_grade is not None and not is_ordinary(snapshot, wide_line=wide_line)


def counts_toward_mass_outage(snapshot: Snapshot, *, wide_line: bool) -> bool:
    """Seed 003 一、6 "3家以上普通集团客户反映在一个地市范围内全部用户无法使用某一业务": an ordinary customer's full
    outage (全阻, `full_outage` or a critical alarm; never a degradation, never a handset-only fault)."""
    return snapshot.full_outage and not snapshot.terminal_only and is_ordinary(snapshot, wide_line=wide_line)


def is_consultation(arrival: Arrival, snapshot: Snapshot) -> bool:
    """Hotline pre-processing: a consultation answered from the FAQ opens no ticket — except for gold
    customers, who skip pre-processing."""
    return arrival.channel is Channel.HOTLINE and arrival.flag(FAQ_ANSWERED) and snapshot.tier is not Tier.GOLD


def opens_on_its_own(arrival: Arrival, rules: Rules) -> bool:
    """Reports always may open a ticket; an alarm only at an opening severity (others only link or are recorded)."""
    return not arrival.is_alarm or arrival.alarm_severity in rules.alarm_open_severities


def fault_key(arrival: Arrival, snapshot: Snapshot) -> tuple[str, str] | None:
    """What makes two arrivals the same fault, and the link kind: the line, else the customer and category."""
    if arrival.service_line_id:
        return f"line:{arrival.service_line_id}", "same_line"
    if snapshot.customer_id:
        return f"customer:{snapshot.customer_id}:{snapshot.category}", "duplicate_customer"
    return None


def reporter(arrival: Arrival, snapshot: Snapshot) -> str:
    """Who reported, for "distinct customers": the customer, else the caller's phone, else the report itself."""
    if snapshot.customer_id:
        return snapshot.customer_id
    if arrival.contact and arrival.contact.phone:
        return f"phone:{arrival.contact.phone}"
    return f"report:{arrival.key}"


def backfill_target(arrival: Arrival) -> str | None:
    """The green-channel ticket this formal record back-fills, if it names one."""
    value = arrival.attributes.get(BACKFILL_TICKET)
    return value if isinstance(value, str) and value and arrival.channel is not Channel.GREEN_CHANNEL else None


def backfill_due(arrival: Arrival, rules: Rules) -> datetime | None:
    """Green channel: the formal ticket is due `backfill_within` after the call (policy default 24 h)."""
    return arrival.reported_at + rules.backfill_within if arrival.channel is Channel.GREEN_CHANNEL else None
