"""intake settings: environment variables prefixed HUYING_INTAKE_ (infrastructure addresses are shared)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from huying.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_INTAKE_", extra="ignore")

    service_name: str = "intake"
    http_port: int = 8101
