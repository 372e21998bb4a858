"""Every service's routes, running on the real broker and database: 401 without a credential (or with a bad one),
403 for a role or team that may not, 200 for one that may; personal data masked where the role does not need it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from dispatch.settings import DispatchSettings
from huying.access import Principal, Role
from huying.auth import SESSION_COOKIE
from huying.settings import ServiceSettings
from huying.token import mint
from intake.app import create as create_intake
from intake.settings import IntakeSettings
from reporting.app import create as create_reporting
from reporting.settings import ReportingSettings
from sla_watch.settings import SlaWatchSettings
from tests.integration.dispatch.conftest import opened as dispatch_opened
from tests.integration.dispatch.conftest import running as running_dispatch
from tests.integration.sla_watch.conftest import running as running_sla_watch
from tests.integration.sla_watch.conftest import tickets_topic
from tests.integration.sla_watch.support import FAST_POLICY, create_topics, dispatched, now, opened, uid
from tests.support.auth import ADMIN, AGENT, SUPERVISOR, TEAM_LEAD, bearer
from tests.support.kafka import produce, wait_until

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
SZ_AGENT = Principal(sub="op-sz-01", role=Role.AGENT, teams=["sz-access-ops"])
CS_AGENT = Principal(sub="cs-01", role=Role.AGENT, teams=["cs-10086"])


@asynccontextmanager
async def serving(app) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), client(app) as http:
        yield http


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


def as_(app, who: Principal, **kw) -> dict[str, str]:
    runtime = app.state.runtime
    return bearer(runtime.settings, who, now=runtime.clock.now(), **kw)


def forged(who: Principal) -> dict[str, str]:
    other = ServiceSettings(token_secret=SecretStr("not-the-services-secret-but-as-long"))
    return {"Authorization": f"Bearer {mint(other, sub=who.sub, role=who.role, now=now(), ttl=HOUR)}"}


def refused(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail["error"] == {401: "unauthenticated", 403: "forbidden"}[status] and detail["reason"]
    return detail["reason"]


async def test_dispatch_every_route_needs_a_token_and_reads_only_the_operators_teams(infra, settings_for) -> None:
    async with running_dispatch(settings_for(DispatchSettings), infra.kafka_bootstrap) as d:
        refused(await d.http.get("/v1/tickets"), 401)
        refused(await d.http.post("/v1/tickets/T-AUTH-1/accept"), 401)
        assert "signature" in refused(await d.http.get("/v1/tickets", headers=forged(SUPERVISOR)), 401)
        stale = bearer(d.settings, AGENT, now=d.clock.now() - timedelta(hours=2))
        assert "expired" in refused(await d.http.get("/v1/tickets", headers=stale), 401)
        d.http.cookies.set(SESSION_COOKIE, mint(d.settings, sub="x", role="admin", now=d.clock.now(), ttl=HOUR))
        refused(await d.http.get("/v1/tickets"), 401)  # dispatch takes tokens only as Bearer, never from a cookie
        d.http.cookies.clear()

        await d.produce("tickets", dispatch_opened("T-AUTH-1"))
        await d.ticket("T-AUTH-1")
        assert (await d.get("/v1/tickets/T-AUTH-1", AGENT)).status_code == 200
        refused(await d.get("/v1/tickets/T-AUTH-1", SZ_AGENT), 403)
        refused(await d.post("T-AUTH-1", "accept", SZ_AGENT), 403)
        seen = (await d.get("/v1/tickets/T-AUTH-1", SUPERVISOR)).json()
        assert seen["contact"]["name"] == "王*" and seen["contact"]["phone"] == "138****8000"
        assert (await d.get("/v1/tickets/T-AUTH-1", CS_AGENT)).json()["contact"]["name"] == "王伟"


async def test_intake_takes_reports_only_with_a_source_systems_api_key_and_masks_the_contact(settings_for) -> None:
    keys = {"10086-cc": SecretStr("key-cc")}
    app = create_intake(settings_for(IntakeSettings, api_keys=keys))
    report = {
        "channel": "hotline",
        "external_id": f"CC-AUTH-{uid()}",
        "description": "专线中断",
        "reported_at": now().isoformat(),
        "contact": {"name": "王伟", "phone": "13800138000", "email": "wangwei@example.com"},
    }
    async with serving(app) as http:
        refused(await http.post("/v1/reports", json=report), 401)
        refused(await http.post("/v1/reports", json=report, headers={"X-API-Key": "key-web"}), 401)
        refused(await http.post("/v1/reports", json=report, headers=as_(app, ADMIN)), 401)  # operators don't report
        refused(await http.get(f"/v1/reports/{report['external_id']}"), 401)
        taken = await http.post("/v1/reports", json=report, headers={"X-API-Key": "key-cc"})
        assert taken.status_code == 201, taken.text
        read = await http.get(f"/v1/reports/{report['external_id']}", headers={"X-API-Key": "key-cc"})
        assert read.status_code == 200
        assert read.json()["contact"] == {
            "name": "王*",
            "phone": "138****8000",
            "email": "w***@example.com",
            "role": None,
        }


async def test_sla_watch_clocks_for_the_tickets_teams_and_timers_for_supervisors(infra, settings_for) -> None:
    settings = settings_for(SlaWatchSettings, policy_override=FAST_POLICY)
    await create_topics(infra.kafka_bootstrap, tickets_topic(settings), f"{settings.topic_prefix}huying.sla.v1")
    ticket = f"T-AUTH-{uid()}"
    async with running_sla_watch(settings) as app, client(app) as http:
        t0 = now()
        await produce(infra.kafka_bootstrap, tickets_topic(settings), opened(ticket, t0),
                      dispatched(ticket, t0, "gz-access-ops"))  # fmt: skip
        watch = app.state.runtime.broker.context.get("sla_watch")
        await wait_until(lambda: _dispatched_in_ledger(watch, ticket), timeout=30)
        path = f"/v1/tickets/{ticket}/sla"

        refused(await http.get(path), 401)
        refused(await http.get(path, headers=forged(SUPERVISOR)), 401)
        refused(await http.get(path, headers=as_(app, SZ_AGENT)), 403)
        for who in (AGENT, TEAM_LEAD, CS_AGENT, SUPERVISOR, ADMIN):
            view = await http.get(path, headers=as_(app, who))
            assert view.status_code == 200 and view.json()["ticket_id"] == ticket, who

        refused(await http.get("/v1/timers"), 401)
        for who in (AGENT, TEAM_LEAD):
            assert "supervisor or admin" in refused(await http.get("/v1/timers", headers=as_(app, who)), 403)
        for who in (SUPERVISOR, ADMIN):
            assert (await http.get("/v1/timers", headers=as_(app, who))).json()["partitions"] == [0, 1, 2]


async def _dispatched_in_ledger(watch, ticket: str) -> bool:
    _, events = await watch.ledger(ticket)
    return any(e.type == "TicketDispatched" for e in events)


async def test_reporting_the_page_for_every_operator_the_figures_for_team_leads_and_above(settings_for) -> None:
    app = create_reporting(settings_for(ReportingSettings))
    async with serving(app) as http:
        page = await http.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"  # a browser is sent to sign in
        refused(await http.get("/v1/summary"), 401)
        refused(await http.get("/v1/summary", headers=forged(ADMIN)), 401)
        assert "Huying" in (await http.get("/", headers=as_(app, AGENT))).text
        assert "team_lead, supervisor or admin" in refused(await http.get("/v1/summary", headers=as_(app, AGENT)), 403)
        for who in (TEAM_LEAD, SUPERVISOR, ADMIN):
            summary = await http.get("/v1/summary", headers=as_(app, who))
            assert summary.status_code == 200 and set(summary.json()) == {
                "customers_by_tier",
                "service_lines_by_category",
            }
        runtime = app.state.runtime
        session = mint(runtime.settings, sub="tl-1", role="team_lead", now=runtime.clock.now(), ttl=HOUR)
        http.cookies.set(SESSION_COOKIE, session)  # the dashboard's own page reads with its session cookie
        assert (await http.get("/")).status_code == 200 and (await http.get("/v1/summary")).status_code == 200
