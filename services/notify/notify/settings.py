"""notify settings: environment variables prefixed HUYING_NOTIFY_ (infrastructure addresses are shared)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from huying.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_NOTIFY_", extra="ignore")

    service_name: str = "notify"
    http_port: int = 8104
