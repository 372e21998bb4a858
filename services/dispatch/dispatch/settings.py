"""dispatch settings: environment variables prefixed HUYING_DISPATCH_ (infrastructure addresses are shared)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from huying.settings import ServiceSettings

CONFIG_DIR = Path(__file__).resolve().parent / "config"


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_DISPATCH_", extra="ignore")

    service_name: str = "dispatch"
    http_port: int = 8102
    routing_file: Path = Field(CONFIG_DIR / "routing.yaml", description="Routing rules (YAML).")
    roster_file: Path = Field(CONFIG_DIR / "roster.yaml", description="Teams and duty roster (YAML).")
    policy_file: Path = Field(CONFIG_DIR / "policy.yaml", description="Lifecycle policy data: follow-up due times.")
    reopen_window_hours: float = Field(168.0, gt=0, description="A resolved ticket may be reopened this long.")
    list_limit: int = Field(200, gt=0, description="Most tickets one list request returns.")
    list_days: int = Field(2, gt=0, description="A list without a live state shows tickets opened this many days.")
    list_max_days: int = Field(31, gt=0, description="The widest opening window a list request may ask for.")
    crm_cache_seconds: float = Field(
        5.0, ge=0, description="The customer shown with a ticket is reused this long (0: read it every time)."
    )
    load_recount_seconds: float = Field(
        600.0, gt=0, description="How often the per-member load counters are recounted from the open tickets."
    )
    unknown_ticket_grace_seconds: float = Field(
        2.0,
        ge=0,
        description="An escalation or severe mark for a ticket dispatch does not hold yet waits this long for its "
        "opening (sla-watch may answer an opening before dispatch stored it), then is dead-lettered.",
    )
    retention_days: float = Field(
        800.0,
        gt=0,
        description="Closed and cancelled tickets (with their history) are deleted this long after their last change: "
        "the rest of the year they closed in, the whole next year (year-on-year quarterly reports, the yearly "
        "quality budget's review) and a month to write the annual report.",
    )
