"""notify settings: environment variables prefixed HUYING_NOTIFY_ (infrastructure addresses are shared)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from huying.settings import ServiceSettings
from notify.domain.storm import DEFAULT_POLICY as DEFAULT_STORM_POLICY
from notify.policy.staff import DEFAULT_STAFF


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_NOTIFY_", extra="ignore")

    service_name: str = "notify"
    http_port: int = 8104

    staff_file: Path = Field(DEFAULT_STAFF, description="notify's staff directory (YAML): teams, people, city roles.")
    storm_rules: bool = Field(
        True,
        description="Apply the storm and rate rules (notify.delivery.storm_gate: re-check, hold-down, one message per "
        "customer per incident, quiet hours, caps and digests, the suppression list) before every send. False: "
        "send everything that is due (always_send).",
    )
    storm_policy_file: Path = Field(
        DEFAULT_STORM_POLICY, description="The storm and rate rules' numbers (YAML, notify.domain.storm.StormPolicy)."
    )
    use_channels: list[str] | None = Field(
        None,
        description="Which of the configured channels (HUYING_NOTIFY_CHANNELS / HUYING_NOTIFY_CHANNELS_FILE, "
        'notify.channels.config) this process uses, by name, JSON: ["sms-cmpp", "sms-http-backup", "outbox"]. '
        "None: all of them, in their configured order (the first of a kind is its primary, the next its failover). "
        "With nothing configured (make run): the embedded outbox only, which records every notification.",
    )
    failover: bool = Field(True, description="A send that comes back `retry` goes on to the kind's next channel.")
    max_attempts: int = Field(
        6,
        ge=1,
        description="Channel calls per notification before it is dead (our choice: with the default backoff the "
        "last is tried about a minute after the first, enough to ride out a gateway restart).",
    )
    backoff_initial_seconds: float = Field(1.0, gt=0, description="Longest wait before the second attempt.")
    backoff_max_seconds: float = Field(300.0, gt=0, description="Longest wait between two attempts.")
    backoff_jitter: float = Field(0.5, ge=0, lt=1, description="The random share of each wait (0: none; below 1).")
    breaker_threshold: int = Field(
        5, ge=1, description="Consecutive retry/unknown outcomes that open a channel's circuit breaker."
    )
    breaker_cooldown_seconds: float = Field(
        30.0, gt=0, description="How long an open breaker keeps its channel out before one trial send."
    )
    lease_seconds: float = Field(
        60.0, gt=0, description="A claimed notification is a worker's this long; past it, it is taken as unknown."
    )
    send_timeout_seconds: float = Field(
        30.0, gt=0, description="A channel call unanswered this long is an unknown outcome (kept under the lease)."
    )
    worker_poll_seconds: float = Field(0.5, gt=0, description="How often a worker looks for due notifications.")
    worker_batch: int = Field(100, ge=1, description="Most notifications one worker pass claims.")
    worker_concurrency: int = Field(16, ge=1, description="Sends one worker has under way at once.")
    unknown_query_seconds: float = Field(
        60.0, gt=0, description="An unknown outcome is asked of its gateway (`query`) this long after, and again."
    )
    unknown_checks: int = Field(
        10, ge=1, description="Queries of an unknown outcome before it is failed (never resent)."
    )
    unknown_ticket_grace_seconds: float = Field(
        5.0,
        ge=0,
        description="An SLA event for a ticket whose opening notify has not read yet waits this long (the SLA topic "
        "may run ahead of the tickets topic), then is dead-lettered (replayable).",
    )
    plan_max_age_hours: float | None = Field(
        72.0,
        gt=0,
        description="An event older than this when read keeps the snapshot current but notifies nobody (logged): a "
        "notify started on an existing log, or after a long outage, does not page people about the past. Our "
        "choice: three days covers a weekend's outage. None: every event, however old.",
    )
    delivery_report_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='API key per channel name for POST /v1/delivery-reports/{channel}, JSON: {"sms-http": "…"}. '
        "A channel without a key accepts no reports (401), unless it is in signed_report_channels.",
    )
    signed_report_channels: list[str] = Field(
        default_factory=list,
        description="Channels whose delivery-report callbacks carry the platform's own signature (the template "
        "shape's callback_secret), checked by the channel: they need no API key.",
    )

    @model_validator(mode="after")
    def _send_ends_within_the_lease(self) -> Self:
        if self.send_timeout_seconds >= self.lease_seconds:
            raise ValueError("send_timeout_seconds must be shorter than lease_seconds (a send outliving its lease "
                             "would be taken for lost mid-send)")  # fmt: skip
        return self
