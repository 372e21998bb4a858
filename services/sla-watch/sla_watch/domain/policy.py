"""The SLA policy: every commitment of DOMAIN.md as versioned data (see policy/sla-policy.yaml).

Numbers live in the YAML file, each with the DOMAIN.md row and seed it comes from; this module only says
what shape they must have, so a deployment's override is validated before it can change a deadline.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, PlainSerializer

from huying.events import Category, Tier
from sla_watch.domain.spans import (
    FullTierRow,
    ScopeTierTable,
    Span,
    TierFlags,
    TierLabels,
    TierRow,
    TierTable,
    _Data,
)


def _fraction(value: Any) -> Fraction:
    scale = Fraction(str(value))  # "1/60", "0.5", 1 — str() keeps 0.1 exact instead of its binary float
    if scale <= 0:
        raise ValueError("time_scale must be positive")
    return scale


TimeScale = Annotated[Fraction, BeforeValidator(_fraction), PlainSerializer(str)]
Ratio = Annotated[float, Field(gt=0, lt=1)]


class ClockRule(_Data):
    """A single allowance for a 24×7 clock, with an optional warning ratio of its own."""

    within: Span
    warning_ratio: Ratio | None = None


class ProgressRule(_Data):
    """Progress cadence while open (表73 row "during handling")."""

    every: TierTable
    customer_informed_only: bool = True
    warning_ratio: Ratio | None = None


class RestoreRule(_Data):
    """Restore limit by scope and tier (表72)."""

    within: ScopeTierTable
    warning_ratio: Ratio | None = None


class FeedbackRule(_Data):
    """Verbal feedback of cause and result after resolution (表73 row "cause and result")."""

    within: TierTable
    warning_ratio: Ratio | None = None


class ReportTerm(Span):
    """A written-report allowance; `on_request` means the clock starts only when the customer asks."""

    on_request: bool = False


class WrittenReportRule(_Data):
    """Written fault report (表74); null tiers provide it on demand without a time limit."""

    gold: ReportTerm | None
    silver: ReportTerm | None
    bronze: ReportTerm | None
    standard: ReportTerm | None
    warning_ratio: Ratio | None = None

    def term(self, tier: Tier) -> ReportTerm | None:
        return getattr(self, tier.value)


class InternalReportRule(_Data):
    """The internal fault report every fault owes after restoration, and the remediation item when it is late."""

    within: Span
    remediation: Span
    warning_ratio: Ratio | None = None


class SevereFaultRule(_Data):
    """Severe faults and mass outages (seed 003): the marks sla-watch times; the mass-outage numbers intake keeps."""

    outage_minutes: float = Field(gt=0)
    non_diamond_inter_city_circuit_hours: float = Field(gt=0)
    same_city_reports: int = Field(gt=0)
    report_window_minutes: float = Field(gt=0)
    acknowledge_minutes_min: float = Field(gt=0)

    def mark(self, *, inter_city_circuit: bool) -> Span:
        """How long a full outage of an important customer runs before it is severe."""
        if inter_city_circuit:
            return Span(hours=self.non_diamond_inter_city_circuit_hours)
        return Span(minutes=self.outage_minutes)


class EscalationRule(_Data):
    """Escalation ladder of the duty rules and the immediate leadership notice."""

    director: Span
    deputy_gm: Span
    tiers: frozenset[Tier]
    leadership_notice_tiers: frozenset[Tier]


class SuspensionRule(_Data):
    """What a suspension must record before it pauses any clock."""

    requires_consent: bool = True
    requires_approval: bool = True


class QualityBudgetRule(_Data):
    """Per service line per year (表75)."""

    repeat_faults: FullTierRow
    outage_hours: FullTierRow
    warning_ratio: Ratio


class CutoverNoticeRule(_Data):
    """Information notices for cutovers (seed 001 ch.8, 表81)."""

    lead: TierTable
    recipient: TierLabels
    form: TierLabels
    customer_confirmation: TierFlags
    adjustable_on_request: TierFlags
    confirm_after: TierFlags
    written_confirmation_before_start: TierFlags
    emergency_lead: Span


class ResourceCheckRule(_Data):
    """Resource-check replies (seed 002 第11–14条)."""

    resources_available: Span
    core_missing: Span
    access_one_point: Span
    access_several_points: Span


class PrewarningRule(_Data):
    """Pre-warnings for orders that may miss their due date (seed 003 2.2.5)."""

    before_due: Span
    expedited_before_due: Span
    automatic_before_due: Span


class ProvisioningRule(_Data):
    """Provisioning and change deadlines (seed 001 ch.5–6, seed 002, seed 003 2.2)."""

    resource_check: ResourceCheckRule
    construction_feedback_count: dict[Category, TierRow]
    acceptance: TierTable
    final_acceptance_months: int = Field(gt=0)
    stop: Span
    restore_service: dict[Category, ScopeTierTable]
    prewarning: PrewarningRule


class SlaPolicy(_Data):
    """One version of the whole policy; tickets keep the version in force when they were opened."""

    version: str = Field(min_length=1)
    effective_from: AwareDatetime
    time_scale: TimeScale = Fraction(1)
    warning_ratio: Ratio = 0.8
    acceptance: ClockRule
    contact: ClockRule
    progress: ProgressRule
    internal_progress: ClockRule
    restore: RestoreRule
    escalation: EscalationRule
    feedback: FeedbackRule
    written_report: WrittenReportRule
    internal_report: InternalReportRule
    follow_up: ClockRule
    backfill: ClockRule
    suspension: SuspensionRule
    quality_budget: QualityBudgetRule
    cutover_notice: CutoverNoticeRule
    provisioning: ProvisioningRule
    # Informational: commitments other services keep; here so one file holds every number of DOMAIN.md.
    general_response: dict[str, Span]
    severe_fault: SevereFaultRule

    def ratio(
        self, rule: ClockRule | ProgressRule | RestoreRule | FeedbackRule | WrittenReportRule | InternalReportRule
    ) -> float:
        """The warning ratio of a rule, falling back to the policy-wide one."""
        return rule.warning_ratio or self.warning_ratio


@dataclass(frozen=True)
class PolicyBook:
    """Every policy version a deployment has had, to pick the one in force at an instant."""

    policies: tuple[SlaPolicy, ...]
    _starts: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.policies:
            raise ValueError("a policy book needs at least one policy")
        if len({p.version for p in self.policies}) != len(self.policies):
            raise ValueError("policy versions must be unique")
        ordered = tuple(sorted(self.policies, key=lambda p: p.effective_from))
        object.__setattr__(self, "policies", ordered)  # frozen: set once, here
        object.__setattr__(self, "_starts", tuple(p.effective_from for p in ordered))

    @classmethod
    def of(cls, policy: SlaPolicy | PolicyBook | Iterable[SlaPolicy]) -> PolicyBook:
        """Wrap a single policy (or return a book unchanged)."""
        if isinstance(policy, PolicyBook):
            return policy
        return cls((policy,) if isinstance(policy, SlaPolicy) else tuple(policy))

    def at(self, instant: datetime) -> SlaPolicy:
        """The version in force at `instant` (the earliest one before any version started)."""
        index = bisect.bisect_right(self._starts, instant) - 1
        return self.policies[max(index, 0)]
