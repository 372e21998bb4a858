"""reporting settings: environment variables prefixed HUYING_REPORTING_ (infrastructure addresses are shared)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from huying.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_REPORTING_", extra="ignore")

    service_name: str = "reporting"
    http_port: int = 8105
