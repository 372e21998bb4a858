"""sla-watch settings: environment variables prefixed HUYING_SLA_WATCH_ (infrastructure addresses are shared)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from huying.settings import ServiceSettings
from sla_watch.policy_loader import DEFAULT_CALENDAR_OVERRIDES, DEFAULT_POLICY


class SlaWatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_SLA_WATCH_", extra="ignore")

    service_name: str = "sla-watch"
    http_port: int = 8103
    policy_file: Path = Field(DEFAULT_POLICY, description="The SLA policy (sla-policy.yaml).")
    policy_override: Path | None = Field(
        None, description="A deployment's override merged over policy_file (tests: policy/sla-policy.fast.yaml)."
    )
    previous_policies: list[Path] = Field(
        default_factory=list, description="Every older policy version still priced by open tickets (JSON list)."
    )
    calendar_overrides: Path | None = Field(
        DEFAULT_CALENDAR_OVERRIDES, description="Working-day override file; empty: the chinese-calendar package only."
    )
    late_after_seconds: float = Field(
        1.0, ge=0, description="A timer firing later than this after its due time carries late_by_seconds."
    )
    fire_batch: int = Field(500, gt=0, description="Most timers published together in one firing pass.")
    retry_seconds: float = Field(1.0, gt=0, description="Wait before retrying a firing pass that failed.")
    outbox_sweep_seconds: float = Field(
        30.0,
        gt=0,
        description="How often the owned partitions' ledgers with outbox entries left (Kafka away or refusing one) "
        "are published again; also right after each partition load.",
    )
    session_timeout_ms: int = Field(
        6000, ge=6000, description="Kafka group session: how soon a dead replica's partitions are handed over."
    )
    heartbeat_interval_ms: int = Field(1500, gt=0, description="Kafka group heartbeat interval.")
    retention_days: float = Field(
        90,
        gt=0,
        description="How long a settled ticket's ledger and timers are kept (and a line's faults after their year).",
    )
