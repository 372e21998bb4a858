"""dispatch settings: environment variables prefixed HUYING_DISPATCH_ (infrastructure addresses are shared)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from huying.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_DISPATCH_", extra="ignore")

    service_name: str = "dispatch"
    http_port: int = 8102
