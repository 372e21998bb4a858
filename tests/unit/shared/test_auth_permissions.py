"""Least privilege: the permission table every service reads, team scoping, and the dependencies' answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI, Security
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from huying import access
from huying.access import PERMISSIONS, Permission, Principal, Role, allowed, reads_ticket, ticket_scope
from huying.auth import SESSION_COOKIE, api_key, operator, require
from huying.clock import ManualClock
from huying.settings import ServiceSettings
from huying.token import mint

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
A, L, S, D = Role.AGENT, Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN

# The table as the README states it: changing who may do what is a decision, so it changes here too.
EXPECTED = {
    Permission.TICKETS: {A, L, S, D},
    Permission.SLA_READ: {A, L, S, D},
    Permission.SLA_TIMERS: {S, D},
    Permission.KPIS: {L, S, D},
    Permission.DASHBOARD: {A, L, S, D},
}


def test_the_permission_table_is_the_documented_one() -> None:
    assert {p: set(roles) for p, roles in PERMISSIONS.items()} == EXPECTED
    assert set(PERMISSIONS) == set(Permission)


@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("role", list(Role))
def test_allowed_follows_the_table(permission, role) -> None:
    assert allowed(Principal(sub="x", role=role), permission) == (role in EXPECTED[permission])


@pytest.mark.parametrize("where", ["huying.access", "README.md"])
def test_the_table_is_written_out_where_people_read_it(where) -> None:
    text = access.__doc__ if where == "huying.access" else (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in text.splitlines() if line.startswith("| `")}
    for permission, roles in EXPECTED.items():
        cells = [c.strip() for c in rows[str(permission)].split("|")[2:6]]
        assert [bool(c) for c in cells] == [r in roles for r in Role], permission
        scoped = [c == "team" for c in cells]
        assert scoped == [r in (A, L) and permission in (Permission.TICKETS, Permission.SLA_READ) for r in Role]


teams = st.lists(st.sampled_from(["gz-access-ops", "sz-access-ops", "fs-access-ops", "cs-10086"]), max_size=3)


@given(role=st.sampled_from(list(Role)), mine=teams, ticket=teams, everything=teams)
def test_team_scoped_roles_read_only_their_teams_tickets_or_all_as_customer_service(role, mine, ticket, everything):
    principal = Principal(sub="x", role=role, teams=mine)
    expected = role in (S, D) or bool(set(mine) & (set(ticket) | set(everything)))
    assert reads_ticket(principal, ticket, everything) == expected


SECRET = "a-test-secret-of-at-least-32-bytes!"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def app_with(**routes) -> FastAPI:
    """A bare app whose runtime holds just the settings and the clock the dependencies read."""
    app = FastAPI()
    settings = ServiceSettings(token_secret=SecretStr(SECRET))
    settings.__dict__["api_keys"] = {"10086-cc": SecretStr("key-cc"), "web": SecretStr("key-wé")}
    app.state.runtime = SimpleNamespace(settings=settings, clock=ManualClock(NOW))
    for path, dependency in routes.items():

        async def endpoint(who=Security(dependency)):
            return {"who": who if isinstance(who, str) else who.sub}

        app.add_api_route(f"/{path}", endpoint, methods=["GET", "POST"])
    return app


def token(role: Role, **kw) -> str:
    settings = ServiceSettings(token_secret=SecretStr(SECRET))
    return mint(settings, sub=f"op-{role}", role=role, now=kw.pop("now", NOW), ttl=timedelta(hours=1), **kw)


async def call(app: FastAPI, path: str, method: str = "GET", **kw) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        return await http.request(method, f"/{path}", **kw)


async def test_no_token_is_401_a_role_that_may_not_is_403_both_explained() -> None:
    app = app_with(timers=require(Permission.SLA_TIMERS), lead=operator(Role.TEAM_LEAD))
    missing = await call(app, "timers")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["detail"] == {"error": "unauthenticated", "reason": missing.json()["detail"]["reason"]}
    assert "Authorization: Bearer" in missing.json()["detail"]["reason"]
    agent = await call(app, "timers", headers={"Authorization": f"Bearer {token(A)}"})
    assert agent.status_code == 403 and agent.json()["detail"]["error"] == "forbidden"
    assert "supervisor or admin" in agent.json()["detail"]["reason"]
    ok = await call(app, "timers", headers={"Authorization": f"Bearer {token(S)}"})
    assert ok.status_code == 200 and ok.json() == {"who": "op-supervisor"}
    assert (await call(app, "lead", headers={"Authorization": f"Bearer {token(S)}"})).status_code == 403
    assert (await call(app, "lead", headers={"Authorization": f"Bearer {token(L)}"})).status_code == 200


async def test_an_expired_token_is_401_by_the_services_clock() -> None:
    app = app_with(tickets=require(Permission.TICKETS))
    old = token(A, now=NOW - timedelta(hours=2))
    response = await call(app, "tickets", headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]["reason"]


async def test_the_session_cookie_counts_only_where_the_route_takes_it() -> None:
    app = app_with(page=require(Permission.DASHBOARD, cookie=True), act=require(Permission.TICKETS))
    cookies = {SESSION_COOKIE: token(A)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", cookies=cookies) as c:
        assert (await c.get("/page")).status_code == 200
        refused = await c.post("/act")  # an action never rides on a cookie a browser sends by itself
        assert refused.status_code == 401 and SESSION_COOKIE not in refused.json()["detail"]["reason"]


async def test_api_keys_name_their_source_system_and_anything_else_is_401() -> None:
    app = app_with(reports=api_key(lambda settings: settings.api_keys))
    assert (await call(app, "reports", headers={"X-API-Key": "key-cc"})).json() == {"who": "10086-cc"}
    for headers in (
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "key-c"},
        {"X-API-Key": "key-cc "},
        {"X-API-Key": "ké".encode()},
    ):
        refused = await call(app, "reports", headers=headers)
        assert refused.status_code == 401, headers
        assert (
            refused.json()["detail"]["error"] == "unauthenticated" and refused.headers["www-authenticate"] == "ApiKey"
        )
    assert (await call(app, "reports", headers={"X-API-Key": "key-wé".encode()})).json() == {"who": "web"}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("teams", [[], ["gz-access-ops"], ["cs-10086"], ["gz-access-ops", "sz-core"]])
def test_ticket_scope_is_reads_ticket_for_a_whole_list(role: Role, teams: list[str]) -> None:
    who = Principal(sub="x", role=role, teams=teams)
    scope = ticket_scope(who, ["cs-10086"])
    for ticket_teams in ([], ["gz-access-ops"], ["sz-core"], ["sh-x"], ["cs-10086"]):
        expected = reads_ticket(who, ticket_teams, ["cs-10086"])
        assert (scope is None or any(t in scope for t in ticket_teams)) == expected, (role, teams, ticket_teams)
