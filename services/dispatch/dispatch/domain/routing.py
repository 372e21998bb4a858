"""Routing rules as data: which teams a ticket goes to, and what happens when a team does not accept in time.

The rules live in `dispatch/config/routing.yaml`; this module only says their shape and how they match.
First matching rule wins. A gold fault spanning several cities is sent to every city's team at once
(seed 001 内部服务标准 2-(1)); core-network faults go to the core-network specialists (seed 002 第26–31条).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Data):
    """Conditions of a rule; an absent condition matches anything, a list matches any of its values."""

    kind: list[str] | None = None
    category: list[str] | None = None
    city: list[str] | None = None
    region: list[str] | None = None
    scope: list[str] | None = None
    tier: list[str] | None = None
    severity: list[str] | None = None
    core_network: bool | None = None


class BreachPolicy(_Data):
    """On an acceptance breach: re-dispatch within the team `redispatch` times, then escalate (transfer)."""

    redispatch: int = Field(1, ge=0)
    escalate_to: str | None = None


class Rule(_Data):
    name: str
    when: Match = Match()
    teams: list[str] = Field(default_factory=list, description="Teams always dispatched by this rule.")
    city_teams: Literal["none", "ticket", "all"] = Field(
        "none", description="Add the category's team of the ticket's city, or of every city of the line."
    )
    on_acceptance_breach: BreachPolicy | None = None
    contractors: list[str] = Field(
        default_factory=list,
        description="Contracted maintainers (代维) this rule sends with its first team, besides the teams' own.",
    )

    @model_validator(mode="after")
    def _dispatches_somewhere(self) -> Rule:
        if not self.teams and self.city_teams == "none":
            raise ValueError(f"rule {self.name!r} names no team and no city_teams")
        return self


class RoutingRules(_Data):
    """The whole routing file, validated at load: an invalid file never starts the service."""

    version: str
    fallback_team: str = Field(description="Where a ticket goes when no rule or city mapping finds a team.")
    on_acceptance_breach: BreachPolicy = BreachPolicy()
    regions: dict[str, list[str]] = Field(default_factory=dict, description="Region name → its cities.")
    city_teams: dict[str, dict[str, str]] = Field(default_factory=dict, description="Category → city → team.")
    contractors: dict[str, str] = Field(default_factory=dict, description="Contracted maintainers (代维): id → name.")
    team_contractors: dict[str, list[str]] = Field(
        default_factory=dict, description="Team → the contracted maintainers dispatched with it wherever it goes."
    )
    rules: list[Rule]

    @model_validator(mode="after")
    def _contractors_known(self) -> RoutingRules:
        named = {c for ids in self.team_contractors.values() for c in ids}
        named |= {c for rule in self.rules for c in rule.contractors}
        if unknown := sorted(named - set(self.contractors)):
            raise ValueError(f"contractors not in `contractors`: {unknown}")
        return self

    def teams_named(self) -> set[str]:
        names = {self.fallback_team, *(t for by_city in self.city_teams.values() for t in by_city.values())}
        names.update(self.team_contractors)
        for rule in self.rules:
            names.update(rule.teams)
            if rule.on_acceptance_breach and rule.on_acceptance_breach.escalate_to:
                names.add(rule.on_acceptance_breach.escalate_to)
        if self.on_acceptance_breach.escalate_to:
            names.add(self.on_acceptance_breach.escalate_to)
        return names

    def rule(self, name: str | None) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def breach_policy(self, rule_name: str | None) -> BreachPolicy:
        rule = self.rule(rule_name)
        return (rule.on_acceptance_breach if rule else None) or self.on_acceptance_breach


@dataclass(frozen=True)
class RoutingInput:
    """What routing looks at: the ticket's snapshot, plus the cities of its service line from the CRM replica."""

    kind: str = "ticket"
    category: str | None = None
    city: str | None = None
    cities: tuple[str, ...] = ()
    scope: str | None = None
    tier: str | None = None
    severity: str = "normal"
    core_network: bool = False


@dataclass(frozen=True)
class Route:
    rule: str | None
    teams: tuple[str, ...]
    contractors: tuple[tuple[str, str], ...] = ()  # (contractor, the team it works with)


def contractors_for(
    teams: Sequence[str], team_contractors: Mapping[str, Sequence[str]], extra: Sequence[str] = ()
) -> tuple[tuple[str, str], ...]:
    """The contracted maintainers (代维) dispatched with `teams`: each team's own, then `extra` (a rule's) with the
    first team; each contractor once, with the first team that brings it."""
    pairs = [(c, t) for t in teams for c in team_contractors.get(t, ())]
    pairs += [(c, teams[0]) for c in extra] if teams else []
    seen: dict[str, str] = {}
    for contractor, team in pairs:
        seen.setdefault(contractor, team)
    return tuple(seen.items())


def _matches(when: Match, ticket: RoutingInput, regions: dict[str, list[str]]) -> bool:
    checks = {
        "kind": ticket.kind,
        "category": ticket.category,
        "city": ticket.city,
        "scope": ticket.scope,
        "tier": ticket.tier,
        "severity": ticket.severity,
    }
    for field, value in checks.items():
        wanted = getattr(when, field)
        if wanted is not None and value not in wanted:
            return False
    if when.region is not None:
        cities = {c for region in when.region for c in regions.get(region, [])}
        if ticket.city not in cities:
            return False
    return when.core_network is None or when.core_network == ticket.core_network


def route(ticket: RoutingInput, rules: RoutingRules) -> Route:
    """The teams a ticket goes to (at least one, each once, in rule order) and the rule that chose them."""
    for rule in rules.rules:
        if not _matches(rule.when, ticket, rules.regions):
            continue
        teams = list(rule.teams)
        if rule.city_teams != "none":
            cities = [ticket.city] if rule.city_teams == "ticket" else [ticket.city, *ticket.cities]
            by_city = rules.city_teams.get(ticket.category or "", {})
            teams += [by_city.get(c, rules.fallback_team) for c in cities if c] or [rules.fallback_team]
        chosen = tuple(dict.fromkeys(teams))
        return Route(rule.name, chosen, contractors_for(chosen, rules.team_contractors, rule.contractors))
    fallback = (rules.fallback_team,)
    return Route(None, fallback, contractors_for(fallback, rules.team_contractors))
