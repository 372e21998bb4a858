"""intake settings: environment variables prefixed HUYING_INTAKE_ (infrastructure addresses are shared)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, TypeAdapter, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict

from huying.events import Tier
from huying.settings import ServiceSettings, read_secret_file
from intake.domain.model import Rules

_KEYS: TypeAdapter[dict[str, SecretStr]] = TypeAdapter(dict[str, SecretStr])
_KEYS_FILE = "HUYING_INTAKE_API_KEYS_FILE"
PRODUCT_FAMILIES = Path(__file__).with_name("product_families.json")


def product_families(path: Path) -> tuple[tuple[str, str], ...]:
    """The (keyword, family) pairs of a product-family file, in order (its `source` names the seed)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple((str(keyword), str(family)) for keyword, family in data["families"])


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_INTAKE_", extra="ignore")

    service_name: str = "intake"
    http_port: int = 8101

    # HTTP edge
    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='API key per source system, JSON: {"10086-cc": "…"}. Empty: every HTTP report is refused (401).',
    )
    api_keys_file: Path | None = Field(
        None, description="A file holding the API keys' JSON (a Docker or Kubernetes secret), instead of API_KEYS."
    )
    rate_limit_per_second: float = Field(200.0, gt=0, description="Reports per second per API key (token bucket).")
    rate_limit_burst: int = Field(400, ge=1, description="Reports a key may send at once before it is limited.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted (413 above).")
    max_batch: int = Field(500, ge=1, description="Most reports in one batch request.")
    future_skew_seconds: float = Field(
        300.0, ge=0, description="A report (or alarm) whose own time is further ahead of intake's clock is refused."
    )
    late_report_hours: float = Field(
        24.0,
        gt=0,
        description="A report (or alarm) whose own time is further behind intake's clock is taken but flagged "
        "`reported_late` (its deadlines count from that time, so it may be overdue the moment it opens).",
    )
    duplicate_wait_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a duplicate waits for the first copy's outcome before finishing it itself (a first "
        "copy slower than this is taken for dead, e.g. its process crashed).",
    )

    kafka_workers: int = Field(1, ge=1, description="Consumers for reports (each takes its own partitions).")
    alarm_batch: int = Field(
        500, ge=1, description="Most alarms taken from Kafka at once (recorded in one round trip, decided per line)."
    )

    # Correlation (DOMAIN.md § Severe faults and mass outages) and channel rules
    line_window_minutes: float = Field(60, gt=0, description="Reports and alarms on one line within this: one ticket.")
    incident_window_minutes: float = Field(
        30,
        gt=0,
        description='Seed 003 一、6 "在30分钟内接到3家以上普通集团客户反映…全部用户无法使用某一业务": the window the '
        "ordinary customers' full outages of one service in one city must fall in.",
    )
    incident_threshold: int = Field(
        3,
        ge=2,
        description='Seed 003 一、6 "3家以上普通集团客户…从接到第3家客户投诉起": distinct ordinary customers that '
        "make a mass outage; the incident is severe from the third.",
    )
    incident_quiet_minutes: float = Field(
        30,
        gt=0,
        description="An incident takes children until this long quiet (the seeds give no figure: our choice, the "
        "same 30 minutes as seed 003's window).",
    )
    backfill_hours: float = Field(
        24, gt=0, description="Green channel back-fill deadline (the SLA policy's `backfill` default: 24 h, 24×7)."
    )
    alarm_open_severities: list[str] = Field(
        ["critical", "major"], description="NMS severities that open a ticket; others only link or are recorded."
    )
    alarm_source_system: str = Field("nms", description="source_system given to monitoring alarms.")
    leadership_tiers: list[Tier] = Field([Tier.GOLD, Tier.SILVER], description="Full outages told to leadership.")
    incident_own_ticket_tiers: list[Tier] = Field(
        [Tier.GOLD, Tier.SILVER],
        description="Reports of these tiers inside an incident still open their own child ticket (tier clocks run); "
        "so do important customers' (seed 003 重要集团客户), whatever their tier.",
    )
    product_families_file: Path = Field(
        PRODUCT_FAMILIES,
        description='CRM product-name keyword → product family ("某一业务", seed 003), for lines CRM gives no family.',
    )
    crm_cache_seconds: float = Field(5.0, ge=0, description="How long a CRM replica lookup is reused.")
    sweep_seconds: float = Field(60.0, gt=0, description="How often ended correlation windows are deleted.")
    retention_days: float = Field(
        30,
        ge=1,
        description="Reports and outcomes (and tickets still awaiting a back-fill or CRM data) are kept this long "
        "after they arrived (TTL), then expire. It bounds de-duplication: a copy arriving later is a new report, so "
        "keep it well above the longest redelivery — the intake and alarm topics' retention (Kafka default 7 days) "
        "plus any consumer outage, and source systems' retry period.",
    )

    @model_validator(mode="after")
    def _api_keys_from_file(self) -> Self:
        if self.api_keys_file is None:
            return self
        if self.api_keys:
            raise ValueError("set HUYING_INTAKE_API_KEYS or HUYING_INTAKE_API_KEYS_FILE, not both")
        content = read_secret_file(self.api_keys_file, _KEYS_FILE)
        try:
            self.api_keys = _KEYS.validate_python(json.loads(content))
        except (ValueError, ValidationError) as error:  # the message names the variable, never a key
            raise ValueError(
                f"{_KEYS_FILE}: not a JSON object of source system to key ({type(error).__name__})"
            ) from None
        return self

    def rules(self) -> Rules:
        """The correlation and channel rules these settings describe."""
        return Rules(
            line_window=timedelta(minutes=self.line_window_minutes),
            incident_window=timedelta(minutes=self.incident_window_minutes),
            incident_threshold=self.incident_threshold,
            incident_quiet=timedelta(minutes=self.incident_quiet_minutes),
            backfill_within=timedelta(hours=self.backfill_hours),
            alarm_open_severities=frozenset(self.alarm_open_severities),
            leadership_tiers=frozenset(self.leadership_tiers),
            incident_own_ticket_tiers=frozenset(self.incident_own_ticket_tiers),
            product_families=product_families(self.product_families_file),
            future_skew=timedelta(seconds=self.future_skew_seconds),
            late_after=timedelta(hours=self.late_report_hours),
        )
