"""Time allowances and the small tables the SLA policy is made of (policy data, validated at load)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from fractions import Fraction

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from huying.events import Scope, Tier

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600}


class Unit(StrEnum):
    """How a number in the policy is counted: 24×7 seconds, minutes or hours, calendar days, PRC working days."""

    SECONDS = "seconds"
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    WORKING_DAYS = "working_days"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Span(_Data):
    """One allowance: exactly one of seconds, minutes, hours, days (calendar) or working_days."""

    seconds: float | None = Field(default=None, gt=0)
    minutes: float | None = Field(default=None, gt=0)
    hours: float | None = Field(default=None, gt=0)
    days: int | None = Field(default=None, gt=0)
    working_days: int | None = Field(default=None, gt=0)

    # Derived once at validation: replay prices thousands of clocks per second from these.
    _unit: Unit = PrivateAttr()
    _value: float = PrivateAttr()
    _length: timedelta | None = PrivateAttr()  # 24×7 length at scale 1; None for date-based spans

    @model_validator(mode="after")
    def _exactly_one(self) -> Span:
        units = [unit for unit in Unit if getattr(self, unit.value) is not None]
        if len(units) != 1:
            raise ValueError("give exactly one of seconds, minutes, hours, days, working_days")
        self._unit, self._value = units[0], getattr(self, units[0].value)
        seconds = _UNIT_SECONDS.get(self._unit.value)
        self._length = None if seconds is None else timedelta(seconds=self._value * seconds)
        return self

    @classmethod
    def of(cls, unit: Unit, value: float) -> Span:
        """A span of `value` in `unit`."""
        return cls(**{unit.value: value})

    # Private attributes are read through __pydantic_private__ directly: pydantic's __getattr__ is slow.
    @property
    def unit(self) -> Unit:
        return self.__pydantic_private__["_unit"]

    @property
    def value(self) -> float:
        return self.__pydantic_private__["_value"]

    @property
    def is_duration(self) -> bool:
        """True for 24×7 seconds/minutes/hours; False for date-based (calendar or working) days."""
        return self.__pydantic_private__["_length"] is not None

    def scaled(self, scale: Fraction) -> timedelta:
        """Real 24×7 time of this span at `scale`; date-based spans count 24 h per day (test scaling only)."""
        private = self.__pydantic_private__
        if scale == 1 and private["_length"] is not None:
            return private["_length"]
        unit_seconds = _UNIT_SECONDS.get(private["_unit"].value, 86400)
        return timedelta(seconds=float(Fraction(private["_value"]) * unit_seconds * scale))


class TierRow(_Data):
    """One number (or null: no commitment) per tier, as in a DOMAIN.md table row."""

    gold: float | None
    silver: float | None
    bronze: float | None
    standard: float | None

    def __getitem__(self, tier: Tier) -> float | None:
        return getattr(self, tier.value)


class FullTierRow(TierRow):
    """A tier row where every tier has a number (restore limits, quality budgets)."""

    gold: float
    silver: float
    bronze: float
    standard: float


class TierTable(TierRow):
    """A tier row with its unit, e.g. progress cadence in minutes."""

    unit: Unit
    _spans: dict[Tier, Span | None] = PrivateAttr()

    @model_validator(mode="after")
    def _spans_once(self) -> TierTable:
        self._spans = {tier: None if self[tier] is None else Span.of(self.unit, self[tier]) for tier in Tier}
        return self

    def span(self, tier: Tier) -> Span | None:
        """The allowance for `tier`, or None where the table says "on demand"."""
        return self.__pydantic_private__["_spans"][tier]


class ScopeTierTable(_Data):
    """Rows by scope (intra-city, inter-city, inter-province), columns by tier, one unit."""

    unit: Unit
    intra_city: FullTierRow
    inter_city: FullTierRow
    inter_province: FullTierRow
    _spans: dict[tuple[Scope, Tier], Span] = PrivateAttr()

    @model_validator(mode="after")
    def _spans_once(self) -> ScopeTierTable:
        rows = {scope: getattr(self, scope.value) for scope in Scope}
        self._spans = {(scope, tier): Span.of(self.unit, row[tier]) for scope, row in rows.items() for tier in Tier}
        return self

    def span(self, scope: Scope, tier: Tier) -> Span:
        """The allowance for a line of `scope` at `tier`."""
        return self.__pydantic_private__["_spans"][(scope, tier)]


class TierFlags(_Data):
    """A yes/no per tier (e.g. customer confirmation needed for a cutover)."""

    gold: bool
    silver: bool
    bronze: bool
    standard: bool

    def __getitem__(self, tier: Tier) -> bool:
        return getattr(self, tier.value)


class TierLabels(_Data):
    """A label per tier (e.g. the form of a cutover notice)."""

    gold: str
    silver: str
    bronze: str
    standard: str

    def __getitem__(self, tier: Tier) -> str:
        return getattr(self, tier.value)
