"""sla-watch settings: environment variables prefixed HUYING_SLA_WATCH_ (infrastructure addresses are shared)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from huying.settings import ServiceSettings


class SlaWatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_SLA_WATCH_", extra="ignore")

    service_name: str = "sla-watch"
    http_port: int = 8103
