"""Who may read a ticket and see its contacts: dispatch's rules on top of the shared roles (huying.access)."""

from __future__ import annotations

from huying.access import Principal, Role, reads_ticket

SYSTEM = Principal(sub="dispatch", role=Role.ADMIN, name="dispatch service")


class Forbidden(Exception):
    """The operator may not do this (HTTP 403)."""


def can_see_contacts(principal: Principal, open_teams: list[str], customer_service_teams: list[str]) -> bool:
    """Least privilege: only the people who must call the customer see phone numbers, emails and contacts' names —
    members of a team working the ticket, and customer service. Supervisors and admins see them masked."""
    if principal.is_role(Role.SUPERVISOR, Role.ADMIN):
        return False
    return any(principal.member_of(t) for t in [*open_teams, *customer_service_teams])


def can_read(principal: Principal, teams: list[str], customer_service_teams: list[str]) -> bool:
    """Agents and team leads read the tickets of their own teams (and customer service reads all)."""
    return reads_ticket(principal, teams, customer_service_teams)
