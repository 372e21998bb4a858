"""Who may do what, the same in every service: operator roles, the permission table, and team scoping.

| permission   | agent | team_lead | supervisor | admin | what                                             |
|--------------|-------|-----------|------------|-------|--------------------------------------------------|
| `tickets`    | team  | team      | all        | all   | dispatch: list, read and act on tickets          |
| `sla.read`   | team  | team      | all        | all   | sla-watch: a ticket's SLA clocks                 |
| `sla.timers` |       |           | yes        | yes   | sla-watch: an instance's partitions and timers   |
| `kpis`       |       | yes       | yes        | yes   | reporting: KPIs and summaries                    |
| `dashboard`  | yes   | yes       | yes        | yes   | reporting: the dashboard page                    |

"team": only the tickets of the operator's own teams, or every ticket for a customer-service team's members.
Which actions a role may take on a ticket, and who sees contacts unmasked, is dispatch's domain
(`dispatch.domain.actions`, `dispatch.domain.access`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    AGENT = "agent"
    TEAM_LEAD = "team_lead"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Principal(BaseModel):
    """An authenticated operator (from a signed token), or a service itself for automatic actions."""

    model_config = ConfigDict(frozen=True, use_enum_values=True)

    sub: str = Field(min_length=1, description="Operator id.", examples=["op-gz-017"])
    role: Role = Field(description="agent, team_lead, supervisor or admin.", examples=["agent"])
    teams: list[str] = Field(default_factory=list, description="Teams the operator belongs to.")
    name: str = ""

    def is_role(self, *roles: Role) -> bool:
        return self.role in roles

    def member_of(self, team: str) -> bool:
        return team in self.teams


class Permission(StrEnum):
    TICKETS = "tickets"
    SLA_READ = "sla.read"
    SLA_TIMERS = "sla.timers"
    KPIS = "kpis"
    DASHBOARD = "dashboard"


ANY_OPERATOR = frozenset(Role)
PERMISSIONS: Mapping[Permission, frozenset[Role]] = {
    Permission.TICKETS: ANY_OPERATOR,
    Permission.SLA_READ: ANY_OPERATOR,
    Permission.SLA_TIMERS: frozenset({Role.SUPERVISOR, Role.ADMIN}),
    Permission.KPIS: frozenset({Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN}),
    Permission.DASHBOARD: ANY_OPERATOR,
}
# Roles that read only the tickets of their own teams (every ticket when in a customer-service team).
TEAM_SCOPED = frozenset({Role.AGENT, Role.TEAM_LEAD})


def allowed(principal: Principal, permission: Permission) -> bool:
    return Role(principal.role) in PERMISSIONS[permission]


def roles_with(permission: Permission) -> list[Role]:
    """The roles that have a permission, in rank order (agent first)."""
    return [r for r in Role if r in PERMISSIONS[permission]]


def ticket_scope(principal: Principal, all_tickets_teams: Iterable[str]) -> list[str] | None:
    """The teams whose tickets this operator reads, as a query's filter (`reads_ticket` for a whole list): None for
    every ticket (supervisors, admins, customer service), else the operator's own teams."""
    if Role(principal.role) not in TEAM_SCOPED or any(principal.member_of(t) for t in all_tickets_teams):
        return None
    return list(principal.teams)


def reads_ticket(principal: Principal, ticket_teams: Iterable[str], all_tickets_teams: Iterable[str]) -> bool:
    """Least privilege per ticket: agents and team leads read the tickets of their teams, customer service reads
    every ticket, and so do supervisors and admins."""
    if Role(principal.role) not in TEAM_SCOPED:
        return True
    return any(principal.member_of(t) for t in [*ticket_teams, *all_tickets_teams])
