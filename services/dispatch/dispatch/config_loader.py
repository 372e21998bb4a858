"""Reading the routing rules, the duty roster and the lifecycle policy: dispatch's only configuration file I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from dispatch.domain.causes import NoticeRule
from dispatch.domain.lifecycle import Policy
from dispatch.domain.roster import Roster
from dispatch.domain.routing import RoutingRules
from dispatch.settings import CONFIG_DIR, DispatchSettings


def _read(path: Path | str) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def _notice_rule(path: Path | str) -> NoticeRule:
    data = _read(path)
    if unknown := sorted(set(data) - {"dedicated_notice"}):
        raise ValueError(f"{path}: unknown fields {unknown}")
    return NoticeRule.model_validate(data.get("dedicated_notice", {}))


@dataclass(frozen=True)
class DispatchConfig:
    """Routing rules, roster and lifecycle policy, validated together (a team must exist to be routed to)."""

    rules: RoutingRules
    roster: Roster
    policy: Policy


def load_config(
    routing: Path | str,
    roster: Path | str,
    *,
    reopen_window: timedelta,
    policy_file: Path | str = CONFIG_DIR / "policy.yaml",
) -> DispatchConfig:
    """The files, cross-checked: every team the rules name and every customer-service team is in the roster."""
    rules = RoutingRules.model_validate(_read(routing))
    teams = Roster.model_validate(_read(roster))
    missing = sorted((rules.teams_named() | set(teams.customer_service_teams)) - set(teams.teams))
    if missing:
        raise ValueError(f"{routing}: teams not in the roster {roster}: {missing}")
    policy = Policy(
        reopen_window=reopen_window,
        customer_service_teams=tuple(teams.customer_service_teams),
        known_teams=frozenset(teams.teams),
        dedicated_notice=_notice_rule(policy_file),
        staff=dict(teams.staff),
        team_contractors={team: tuple(ids) for team, ids in rules.team_contractors.items()},
    )
    return DispatchConfig(rules, teams, policy)


def config_from(settings: DispatchSettings) -> DispatchConfig:
    return load_config(
        settings.routing_file,
        settings.roster_file,
        reopen_window=timedelta(hours=settings.reopen_window_hours),
        policy_file=settings.policy_file,
    )
