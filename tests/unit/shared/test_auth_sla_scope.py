"""sla-watch scopes a ticket's clocks as dispatch scopes the ticket: to the teams that have or had a work item."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from huying.access import reads_ticket
from huying.events import TicketAccepted, TicketDispatched, TicketResumed, TicketTransferred
from sla_watch.http import ticket_teams
from tests.support.auth import AGENT, SUPERVISOR, TEAM_LEAD

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_the_teams_are_those_dispatched_to_and_transferred_from_or_to() -> None:
    events = [
        TicketDispatched(ticket_id="T-1", occurred_at=T0, teams=["sz-access-ops", "prov-core-network"]),
        TicketAccepted(ticket_id="T-1", occurred_at=T0, team="sz-access-ops"),
        TicketTransferred(
            ticket_id="T-1", occurred_at=T0, from_team="sz-access-ops", to_team="gz-access-ops", reason="wrong city"
        ),
        TicketResumed(ticket_id="T-1", occurred_at=T0),
    ]
    assert ticket_teams(events) == {"sz-access-ops", "prov-core-network", "gz-access-ops"}
    assert ticket_teams([]) == set()


def test_an_undispatched_ticket_is_read_by_customer_service_supervisors_and_admins_only() -> None:
    cs = ["cs-10086"]
    assert not reads_ticket(AGENT, ticket_teams([]), cs) and not reads_ticket(TEAM_LEAD, ticket_teams([]), cs)
    assert reads_ticket(SUPERVISOR, ticket_teams([]), cs)
