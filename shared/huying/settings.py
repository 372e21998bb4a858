"""Settings base: one pydantic-settings class per service, env prefix per service, read by a function."""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service needs. Infrastructure addresses use shared names (HUYING_KAFKA_BOOTSTRAP,
    HUYING_MONGODB_URI, HUYING_TOPIC_PREFIX) so one environment serves all five services; everything else
    is read with the service's own prefix, e.g. HUYING_INTAKE_HTTP_PORT."""

    # validate_by_name: code and tests may pass kafka_bootstrap=...; the environment is read only by the HUYING_ names.
    model_config = SettingsConfigDict(env_prefix="HUYING_", extra="ignore", validate_by_name=True)

    service_name: str = "huying"
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        validation_alias="HUYING_KAFKA_BOOTSTRAP",
        description="Kafka bootstrap servers, comma-separated.",
    )
    mongodb_uri: SecretStr = Field(
        SecretStr("mongodb://127.0.0.1:27017/"),
        validation_alias="HUYING_MONGODB_URI",
        description="MongoDB (or SecantusDB) connection string; a secret, since it may carry credentials.",
    )
    topic_prefix: str = Field(
        "",
        validation_alias="HUYING_TOPIC_PREFIX",
        description="Prefix for every topic name (empty in production; tests use a unique one).",
    )
    mongodb_database: str = Field("", description="Database name; empty means huying_<service>.")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    outbox_poll_seconds: float = Field(1.0, gt=0, description="Outbox relay's safety-net poll interval.")
    crm_batch: int = Field(1000, ge=1, le=10_000, description="Most CRM records applied to the replica in one batch.")
    env: Literal["development", "production"] = Field(
        "production",
        validation_alias="HUYING_ENV",
        description="`development` (set by `make run`) allows the built-in development credentials; anything else "
        "requires real secrets and refuses to start without them.",
    )

    # Failure paths: a record whose handler fails for a transient reason (database or broker away) is retried with
    # exponential backoff and full jitter while its partition waits; anything else is dead-lettered at once.
    retry_initial_seconds: float = Field(0.2, gt=0, description="First wait before a transient failure is retried.")
    retry_max_seconds: float = Field(
        30.0, gt=0, description="Longest wait between retries (kept under Kafka's max.poll.interval.ms)."
    )
    dlq_inline_bytes: int = Field(
        262_144,
        ge=1024,
        description="A dead-lettered record's value is copied whole up to this size; a larger one keeps its first "
        "bytes, its size and its SHA-256 and is referenced by topic, partition and offset, so the letter always fits.",
    )

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"huying_{self.service_name.replace('-', '_')}"

    @property
    def group_id(self) -> str:
        """Consumer group: one per service (and topic prefix), shared by its replicas."""
        return f"{self.topic_prefix}huying-{self.service_name}"


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S], **overrides: object) -> S:
    """Read a service's settings from the environment now (never at import time)."""
    return cls(**overrides)
