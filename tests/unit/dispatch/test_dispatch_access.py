"""dispatch's own rules on top of the shared roles: who reads a ticket and who sees its contacts unmasked."""

from __future__ import annotations

import pytest

from dispatch.domain.access import can_read, can_see_contacts
from tests.unit.dispatch.builders import ADMIN, AGENT, CS, OTHER, SUPERVISOR, SZ_LEAD

pytestmark = pytest.mark.unit


def test_only_the_working_team_and_customer_service_see_contacts() -> None:
    working, cs = ["gz-access-ops"], ["cs-10086"]
    assert can_see_contacts(AGENT, working, cs) and can_see_contacts(CS, working, cs)
    assert not any(can_see_contacts(p, working, cs) for p in (OTHER, SZ_LEAD, SUPERVISOR, ADMIN))


def test_agents_and_team_leads_read_their_teams_tickets_customer_service_and_supervisors_all() -> None:
    teams, cs = ["gz-access-ops"], ["cs-10086"]
    assert all(can_read(p, teams, cs) for p in (AGENT, CS, SUPERVISOR, ADMIN))
    assert not any(can_read(p, teams, cs) for p in (OTHER, SZ_LEAD))
    assert can_read(SZ_LEAD, ["gz-access-ops", "sz-access-ops"], cs)
