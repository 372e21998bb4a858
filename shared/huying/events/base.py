"""The envelope every Huying message carries, and the vocabulary shared by all topics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


def F(description: str, example: Any, **kwargs: Any) -> Any:
    """A pydantic Field with a description and one example, as the AsyncAPI document shows them."""
    return Field(description=description, examples=[example], **kwargs)


class Tier(StrEnum):
    """Service tier of an enterprise customer: 金牌/银牌/铜牌/标准 (AAA/AA/A/普通)."""

    GOLD = "gold"
    SILVER = "silver"
    BRONZE = "bronze"
    STANDARD = "standard"


class Scope(StrEnum):
    """Geographic scope of a service line: 地市内 / 跨地市 / 跨省."""

    INTRA_CITY = "intra_city"
    INTER_CITY = "inter_city"
    INTER_PROVINCE = "inter_province"


class Category(StrEnum):
    """Service category: 专线接入类 (access lines) or 叠加类 (overlay: voice, VPN, group SMS)."""

    ACCESS = "access"
    OVERLAY = "overlay"


class Channel(StrEnum):
    """How a report reached the center; green_channel is 绿色通道 (must be back-filled, 补录)."""

    HOTLINE = "hotline"
    ACCOUNT_MANAGER = "account_manager"
    GREEN_CHANNEL = "green_channel"
    CUSTOMER_DIRECT = "customer_direct"
    WEB = "web"
    MONITORING = "monitoring"


class Severity(StrEnum):
    """Ticket severity; severe is 严重故障 (seed 003)."""

    NORMAL = "normal"
    SEVERE = "severe"


class CauseCategory(StrEnum):
    """What caused a fault, stated with every resolution (DOMAIN.md "Only the operator's equipment counts"; seed 001
    表72: "该时限仅针对移动公司负责管理的设备引起的故障"). Only the operator's causes count against the restore
    commitment and the quality budget."""

    OPERATOR_EQUIPMENT = "operator_equipment"  # the operator's own equipment or lines
    OPERATOR_WORK = "operator_work"  # the operator's upgrade, cutover or maintenance error
    CUSTOMER_SIDE = "customer_side"  # the customer's equipment, power or premises
    INTERCONNECTION = "interconnection"  # another carrier's network (互联互通)
    THIRD_PARTY = "third_party"  # e.g. construction cutting a cable outside the operator's control
    NOT_A_FAULT = "not_a_fault"  # no fault found


OPERATOR_CAUSES = frozenset({CauseCategory.OPERATOR_EQUIPMENT, CauseCategory.OPERATOR_WORK})


class CustomerGrade(StrEnum):
    """Which enterprise customers are important (重要集团客户, seed 003): provincial-level ones and city-level diamond
    ones, as CRM says; every customer with an inter-city or inter-province line is important too (the line's scope
    says that). The others are ordinary (普通集团客户)."""

    PROVINCIAL = "provincial"  # 省级集团客户
    CITY_DIAMOND = "city_diamond"  # 地市钻石级集团客户
    ORDINARY = "ordinary"


class AssuranceLevel(StrEnum):
    """A service line's assurance level (业务保障等级, seed 001 表71/72/75): the restore limit and the yearly quality
    budget follow it; cadence, reports and notices follow the customer's tier. By default it follows the tier."""

    AAA = "AAA"
    AA = "AA"
    A = "A"
    ORDINARY = "ordinary"  # 普通

    @classmethod
    def of_tier(cls, tier: Tier) -> AssuranceLevel:
        """The default mapping: gold→AAA, silver→AA, bronze→A, standard→普通."""
        return _LEVEL_OF_TIER[tier]

    @property
    def tier(self) -> Tier:
        """The tier column of the seed's tables this level reads (表71/72/75 name both scales side by side)."""
        return _TIER_OF_LEVEL[self]


_LEVEL_OF_TIER = {
    Tier.GOLD: AssuranceLevel.AAA,
    Tier.SILVER: AssuranceLevel.AA,
    Tier.BRONZE: AssuranceLevel.A,
    Tier.STANDARD: AssuranceLevel.ORDINARY,
}
_TIER_OF_LEVEL = {level: tier for tier, level in _LEVEL_OF_TIER.items()}


def utc_now() -> datetime:
    """The wall clock in UTC, for default values at the edge only (domain code takes time as an argument)."""
    return datetime.now(UTC)


class Event(BaseModel):
    """The envelope: identity, type, version, time, provenance. Subclasses add the payload fields."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    TOPIC: ClassVar[str] = ""

    event_id: uuid.UUID = F(
        "Unique id of this event; consumers de-duplicate on it. Derived events use uuid5 for determinism.",
        "6f1c1f8e-8a4b-4c1e-9d43-2f4d3c1b7a10",
        default_factory=uuid.uuid4,
    )
    type: str = F("Message type name, the discriminator within a topic.", "TicketOpened")
    schema_version: int = F("Version of this message's schema; changes are additive, old ones upcast.", 1, default=1)
    occurred_at: AwareDatetime = F(
        "When the fact happened (timezone-aware, stored and sent as UTC).",
        "2026-03-02T01:15:00Z",
        default_factory=utc_now,
    )
    producer: str = F("Service (or source system) that produced the message.", "intake", default="unknown")
    correlation_id: str | None = F(
        "Id tying together everything caused by one original report or action.",
        "rpt-hotline-20260302-000123",
        default=None,
    )
    causation_id: str | None = F(
        "event_id of the message that directly caused this one, if any.",
        "0b8e7f4e-3f9d-4c55-a6f4-0d3f3a3f9b21",
        default=None,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _datetimes_in_utc(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def partition_key(self) -> bytes | None:
        """Kafka partition key: the ticket id for ticket-scoped topics (overridden per message family)."""
        return None
