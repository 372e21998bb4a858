"""Settings base: one pydantic-settings class per service, env prefix per service, read by a function."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self, TypeVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service needs. Infrastructure addresses use shared names (HUYING_KAFKA_BOOTSTRAP,
    HUYING_MONGODB_URI, HUYING_TOPIC_PREFIX) so one environment serves all five services; everything else
    is read with the service's own prefix, e.g. HUYING_INTAKE_HTTP_PORT."""

    # validate_by_name: code and tests may pass kafka_bootstrap=...; the environment is read only by the HUYING_ names.
    # hide_input_in_errors: a refused setting's message never repeats what was read (secrets, credentials in URIs).
    model_config = SettingsConfigDict(
        env_prefix="HUYING_", extra="ignore", validate_by_name=True, hide_input_in_errors=True
    )

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

    # ---- Identity and access (huying.auth) -------------------------------------------------------------------------
    # One secret, issuer and audience for every service, so an operator's token is accepted wherever the role allows.
    # No default secret: without one a service starts only with HUYING_ENV=development (built-in secret, loud warning).
    token_secret: SecretStr | None = Field(
        None,
        validation_alias="HUYING_TOKEN_SECRET",
        description="HMAC key signing operator tokens (HS256), at least 32 bytes.",
    )
    token_secret_file: Path | None = Field(
        None,
        validation_alias="HUYING_TOKEN_SECRET_FILE",
        description="A file holding the token secret (a Docker or Kubernetes secret), instead of HUYING_TOKEN_SECRET.",
    )
    token_issuer: str = Field("huying", validation_alias="HUYING_TOKEN_ISSUER", description="`iss` of operator tokens.")
    token_audience: str = Field(
        "huying",
        validation_alias="HUYING_TOKEN_AUDIENCE",
        description="`aud` of operator tokens, one for all services.",
    )
    customer_service_teams: list[str] = Field(
        ["cs-10086"],
        validation_alias="HUYING_CUSTOMER_SERVICE_TEAMS",
        description="Teams whose members read every ticket (customer service), as in dispatch's roster: sla-watch "
        "uses it for SLA views; dispatch warns at start-up if its roster says otherwise.",
    )

    @model_validator(mode="after")
    def _token_secret_checked(self) -> Self:
        if self.token_secret_file is not None:
            if self.token_secret is not None:
                raise ValueError("set HUYING_TOKEN_SECRET or HUYING_TOKEN_SECRET_FILE, not both")
            self.token_secret = SecretStr(read_secret_file(self.token_secret_file, "HUYING_TOKEN_SECRET_FILE"))
        if self.token_secret is not None and len(self.token_secret.get_secret_value().encode()) < 32:
            # RFC 7518 3.2: an HS256 key of at least 256 bits
            raise ValueError("HUYING_TOKEN_SECRET (or HUYING_TOKEN_SECRET_FILE's content) must be at least 32 bytes")
        return self

    # ---- end of identity and access ----------------------------------------------------------------------------------

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


def read_secret_file(path: Path, variable: str) -> str:
    """A secret file's content without its trailing newline; ValueError naming the variable if unreadable or empty."""
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        raise ValueError(f"{variable}: cannot read {path}: {error.strerror}") from None
    if not secret:
        raise ValueError(f"{variable}: {path} is empty")
    return secret


def load_settings(cls: type[S], **overrides: object) -> S:
    """Read a service's settings from the environment now (never at import time)."""
    return cls(**overrides)
