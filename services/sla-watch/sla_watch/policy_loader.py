"""Reading the policy and calendar files: the only I/O of the SLA engine, kept out of `domain/`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sla_watch.domain.policy import PolicyBook, SlaPolicy
from sla_watch.domain.workdays import CalendarOverrides, WorkingCalendar, prc_calendar

POLICY_DIR = Path(__file__).resolve().parent / "policy"  # inside the package, so it ships in the wheel
DEFAULT_POLICY = POLICY_DIR / "sla-policy.yaml"
DEFAULT_CALENDAR_OVERRIDES = POLICY_DIR / "calendar-overrides.yaml"


def _read(path: Path | str) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else in `override` replaces the base value."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_policy(path: Path | str = DEFAULT_POLICY, *, override: Path | str | None = None) -> SlaPolicy:
    """The policy in `path`, with a deployment's `override` file merged over it (which must set `version`)."""
    data = _read(path)
    if override is not None:
        patch = _read(override)
        if not patch.get("version") or patch["version"] == data.get("version"):
            raise ValueError(f"{override}: an override must give its own version")
        data = merge(data, patch)
    return SlaPolicy.model_validate(data)


def load_policy_book(*paths: Path | str) -> PolicyBook:
    """Every policy version a deployment has had (one file each), to replay old tickets under their version."""
    return PolicyBook(tuple(load_policy(p) for p in paths))


def load_calendar(path: Path | str | None = DEFAULT_CALENDAR_OVERRIDES) -> WorkingCalendar:
    """The PRC calendar with the override file at `path` (None: the package alone)."""
    if path is None:
        return prc_calendar()
    return prc_calendar(CalendarOverrides.model_validate(_read(path)))
