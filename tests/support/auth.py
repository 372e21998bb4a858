"""Operator tokens for tests: the test secret every test service is configured with, and headers that carry one."""

from __future__ import annotations

from datetime import datetime, timedelta

from huying.access import Principal, Role
from huying.settings import ServiceSettings
from huying.token import mint

TOKEN_SECRET = "test-token-secret-of-at-least-32-bytes"  # settings_for gives it to every test service


def bearer(settings: ServiceSettings, who: Principal, *, now: datetime, ttl: timedelta = timedelta(hours=1)) -> dict:
    """Headers carrying a token for `who`, minted as of the service's clock `now`."""
    signed = mint(settings, sub=who.sub, role=who.role, teams=who.teams, now=now, ttl=ttl)
    return {"Authorization": f"Bearer {signed}"}


AGENT = Principal(sub="op-gz-01", role=Role.AGENT, teams=["gz-access-ops"])
TEAM_LEAD = Principal(sub="tl-gz-01", role=Role.TEAM_LEAD, teams=["gz-access-ops"])
SUPERVISOR = Principal(sub="sup-gd-01", role=Role.SUPERVISOR, teams=["gd-duty-supervisors"])
ADMIN = Principal(sub="admin-01", role=Role.ADMIN)
