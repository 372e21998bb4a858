"""reporting settings: environment variables prefixed HUYING_REPORTING_ (infrastructure addresses are shared)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from huying.settings import ServiceSettings

CONFIG_DIR = Path(__file__).resolve().parent / "config"


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_REPORTING_", extra="ignore")

    service_name: str = "reporting"
    http_port: int = 8105
    # The dashboard (reporting.web): who may sign in, and where operator actions are forwarded.
    users_file: Path = Field(
        CONFIG_DIR / "users.yaml", description="Dashboard users: username, argon2 hash, role, teams (YAML)."
    )
    demo_users: bool = Field(
        False,
        description="Let the built-in demo users (users.yaml, password huying-demo) sign in outside "
        "HUYING_ENV=development (the tests); a deployment sets its own users_file instead.",
    )
    dispatch_url: str = Field("http://127.0.0.1:8102", description="dispatch's base URL (operator actions).")
    sla_watch_url: str = Field("http://127.0.0.1:8103", description="sla-watch's base URL (a ticket's clocks).")
    notify_url: str = Field("http://127.0.0.1:8104", description="notify's base URL (the outbox's message texts).")
    session_hours: float = Field(12.0, gt=0, description="A dashboard session's lifetime: one duty shift (our choice).")
    forward_timeout_seconds: float = Field(5.0, gt=0, description="How long a forwarded action may take.")
    sse_poll_seconds: float = Field(0.5, gt=0, description="How often the live-update stream looks for changes.")
