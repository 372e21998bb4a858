"""What intake reasons about: an arrival (a report or an alarm, normalised), the master data found for it, the
enriched snapshot a ticket opens with, and the rules (configuration) that decide."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from huying.events import AssuranceLevel, Category, Channel, Contact, CustomerGrade, Scope, Tier


@dataclass(frozen=True)
class Arrival:
    """One report from any channel, or one monitoring alarm, as intake handles it.

    `key` ("source_system:external_id") identifies it: a second arrival with the same key is a duplicate."""

    source_system: str
    external_id: str
    channel: Channel
    reported_at: datetime
    customer_id: str | None = None
    service_line_id: str | None = None
    contact: Contact | None = None
    category_hint: Category | None = None
    description: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    alarm_severity: str | None = None  # set for monitoring alarms only
    city_hint: str | None = None  # the alarm's city, or attributes.city / caller_city of a report
    correlation_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.source_system}:{self.external_id}"

    @property
    def is_alarm(self) -> bool:
        return self.alarm_severity is not None

    def flag(self, name: str) -> bool:
        """A boolean attribute from the source system (true, "true", 1 and "1" count as set)."""
        value = self.attributes.get(name)
        return value is True or value == 1 or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


@dataclass(frozen=True)
class Customer:
    customer_id: str
    tier: Tier
    city: str
    grade: CustomerGrade = CustomerGrade.ORDINARY  # provincial / city_diamond: important customers (seed 003)


@dataclass(frozen=True)
class Line:
    service_line_id: str
    customer_id: str
    category: Category
    scope: Scope
    cities: tuple[str, ...]
    product: str = ""  # CRM's product name, e.g. "互联网专线 100M"
    product_family: str | None = None  # CRM's product family, when it sets one ("the same service" of seed 003)
    assurance_level: AssuranceLevel | None = None  # CRM's explicit level; None: it follows the customer's tier


@dataclass(frozen=True)
class Master:
    """CRM replica data found for an arrival (None: unknown to the replica)."""

    customer: Customer | None = None
    line: Line | None = None


@dataclass(frozen=True)
class Snapshot:
    """The enriched facts a ticket opens with."""

    customer_id: str | None
    service_line_id: str | None
    tier: Tier
    scope: Scope
    category: Category
    city: str | None
    verified: bool
    full_outage: bool
    leadership_notice: bool
    severe: bool
    core_network: bool
    customer_grade: CustomerGrade | None = None  # None: the customer is unknown to the CRM replica
    assurance_level: AssuranceLevel | None = None
    product_family: str | None = None  # as CRM says (None when it says nothing)
    service: str = ""  # the family a mass outage correlates by: CRM's, else derived from the product or category
    terminal_only: bool = False


@dataclass(frozen=True)
class Rules:
    """Windows, thresholds and channel rules (built from settings; every number is configuration)."""

    line_window: timedelta = timedelta(minutes=60)
    incident_window: timedelta = timedelta(minutes=30)
    incident_threshold: int = 3
    incident_quiet: timedelta = timedelta(minutes=30)
    backfill_within: timedelta = timedelta(hours=24)
    alarm_open_severities: frozenset[str] = frozenset({"critical", "major"})
    leadership_tiers: frozenset[Tier] = frozenset({Tier.GOLD, Tier.SILVER})
    incident_own_ticket_tiers: frozenset[Tier] = frozenset({Tier.GOLD, Tier.SILVER})
    # (keyword in CRM's product name, family) for lines whose CRM record names no family; first match wins; no
    # match: the line's category. Loaded from product_families.json (its `source` names the seed).
    product_families: tuple[tuple[str, str], ...] = ()
    future_skew: timedelta = timedelta(minutes=5)  # how far ahead of intake's clock a report's own time may be
    late_after: timedelta = timedelta(hours=24)  # a report's own time further behind intake's clock is flagged
