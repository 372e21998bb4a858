"""The ticket page's operator actions against a real dispatch (served over HTTP, its Kafka consumers and outbox on the
real broker and database) and reporting in-process on the same topics: the panel shows what dispatch allows the
ticket now; an operator takes a ticket from dispatched to closed through reporting's routes (accept, contact result,
progress, resolve; a supervisor confirms and closes), each forwarded with the operator's own token; dispatch's
refusals come back with their status and reason (a 422 names the field, a stale version is a 409); the facts follow
through Kafka; and customer service reads every ticket, as in dispatch."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dispatch.app import create as create_dispatch
from dispatch.settings import DispatchSettings
from huying.access import Principal, Role
from huying.events import SlaClockStarted
from reporting.app import create as create_reporting
from reporting.domain.facts import SHANGHAI
from reporting.settings import ReportingSettings
from reporting.store import FACTS
from tests.support.auth import AGENT, SUPERVISOR, bearer
from tests.support.kafka import produce, wait_until
from tests.support.serving import free_port, serving
from tests.unit.dispatch.builders import opened

pytestmark = pytest.mark.integration
CUSTOMER_SERVICE = Principal(sub="cs-01", role=Role.AGENT, teams=["cs-10086"])
OTHER_TEAM = Principal(sub="op-sz-01", role=Role.AGENT, teams=["sz-access-ops"])


@contextlib.asynccontextmanager
async def _reporting(settings: ReportingSettings) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    app = create_reporting(settings)  # the system clock: dispatch checks the operator's token by its own
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://r") as http:
        yield http, app.state.runtime


@pytest.fixture
async def services(infra, settings_for):
    port = free_port()
    dispatch = settings_for(DispatchSettings, http_port=port)
    reporting = settings_for(ReportingSettings, dispatch_url=f"http://127.0.0.1:{port}")
    with serving(create_dispatch(dispatch), port):
        async with _reporting(reporting) as (http, runtime):
            yield http, runtime, reporting


async def _sign_in(http: httpx.AsyncClient, username: str) -> None:
    http.cookies.clear()
    answer = await http.post("/login", data={"username": username, "password": "huying-demo"})
    assert answer.status_code == 303


def _csrf(page: str) -> str:
    return re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page).group(1)


async def _panel(http: httpx.AsyncClient, ticket_id: str) -> tuple[str, str]:
    """The actions fragment and the ticket version it offers the forms at."""
    html = (await http.get(f"/fragments/tickets/{ticket_id}/actions")).text
    version = re.search(r'data-version="(\d*)"', html).group(1)
    return html, version


async def _act(http, csrf: str, ticket_id: str, action: str, **form: str) -> httpx.Response:
    if "expected_version" not in form:
        form["expected_version"] = (await _panel(http, ticket_id))[1]
    return await http.post(f"/tickets/{ticket_id}/actions/{action}", data=form, headers={"X-CSRF-Token": csrf})


async def _facts(runtime, ticket_id: str, wanted) -> dict:
    found: dict = {}

    async def arrived() -> bool:
        found.update(await runtime.db[FACTS].find_one({"_id": ticket_id}) or {})
        return wanted(found)

    await wait_until(arrived, timeout=60)
    return found


async def test_an_operator_takes_a_ticket_from_dispatched_to_closed_through_the_ticket_page(services, infra) -> None:
    http, runtime, _ = services
    now = datetime.now(UTC)
    ticket = f"T-ACT-{now:%H%M%S%f}"
    await produce(
        infra.kafka_bootstrap,
        runtime.topics.tickets.name,
        opened(ticket, reported_at=now - timedelta(minutes=3), occurred_at=now - timedelta(minutes=2)),
    )
    await _facts(runtime, ticket, lambda f: "gz-access-ops" in f.get("teams", []))  # dispatch routed it
    await _sign_in(http, "op-gz-01")
    page = await http.get(f"/tickets/{ticket}")
    assert page.status_code == 200 and f'hx-get="/fragments/tickets/{ticket}/actions"' in page.text
    csrf = _csrf(page.text)

    panel, version = await _panel(http, ticket)
    assert 'id="action-accept"' in panel and 'id="action-resolve"' not in panel and "已派单" in panel
    assert (await http.post(f"/tickets/{ticket}/actions/accept", data={"expected_version": version})).status_code == 403
    took = await _act(http, csrf, ticket, "accept")
    assert 'id="action-ok"' in took.text and took.headers["HX-Trigger"] == "huying:acted"
    again = await http.post(f"/tickets/{ticket}/accept", headers={"X-CSRF-Token": csrf})  # the first slice's route
    assert 'id="action-error"' in again.text and 'data-status="409"' in again.text

    panel, version = await _panel(http, ticket)
    assert {"contact", "progress", "resolve"} <= set(re.findall(r'data-action="(\w+)"', panel))
    assert 'id="action-accept"' not in panel
    missing = await _act(http, csrf, ticket, "contact", reached="false", method="phone")
    assert 'data-status="422"' in missing.text and "not_reached_reason" in missing.text  # dispatch names the field
    assert "HX-Trigger" not in missing.headers
    assert 'id="action-ok"' in (await _act(http, csrf, ticket, "contact", reached="false", method="phone",
                                           not_reached_reason="电话无人接听")).text  # fmt: skip
    assert 'id="action-ok"' in (await _act(http, csrf, ticket, "contact", reached="true", method="phone")).text
    noted = await _act(http, csrf, ticket, "progress", note="已派代维上站，光缆中断点已定位", customer_informed="true")
    assert 'id="action-ok"' in noted.text
    stale = await _act(http, csrf, ticket, "resolve", cause="x", cause_category="operator_equipment",
                       expected_version=version)  # fmt: skip
    assert 'data-status="409"' in stale.text  # the ticket moved on since that version
    future = (datetime.now(UTC) + timedelta(hours=1)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    unknown = await _act(http, csrf, ticket, "teleport")
    assert 'data-status="404"' in unknown.text
    bad_time = await _act(http, csrf, ticket, "resolve", cause="x", cause_category="third_party", restored_at="soon")
    assert 'data-status="422"' in bad_time.text and "restored_at" in bad_time.text  # never reached dispatch
    ahead = await _act(http, csrf, ticket, "resolve", cause="x", cause_category="third_party", restored_at=future)
    assert 'data-status="422"' in ahead.text and "restored_at: is in the future" in ahead.text  # dispatch's check
    done = await _act(http, csrf, ticket, "resolve", cause="光缆被施工挖断，已熔接", cause_category="third_party",
                      resolution="熔接光缆")  # fmt: skip
    assert 'id="action-ok"' in done.text

    facts = await _facts(runtime, ticket, lambda f: f.get("status") == "resolved")
    assert facts["cause_category"] == "third_party" and facts["accepted_at"] is not None
    kinds = {e["type"] for e in facts.get("log", [])}
    assert {"TicketAccepted", "CustomerContacted", "ProgressNoted", "TicketResolved"} <= kinds
    panel, _ = await _panel(http, ticket)
    assert 'id="action-confirm"' in panel and "已返单" in panel

    await _sign_in(http, "sup-gd-01")  # confirming and closing are customer service's (or a supervisor's)
    csrf = _csrf((await http.get(f"/tickets/{ticket}")).text)
    assert 'id="action-ok"' in (await _act(http, csrf, ticket, "confirm", method="customer")).text
    assert 'id="action-ok"' in (await _act(http, csrf, ticket, "close")).text
    await _facts(runtime, ticket, lambda f: f.get("status") == "closed")
    assert f'data-ticket="{ticket}"' not in (await http.get("/")).text  # off the open queue
    panel, _ = await _panel(http, ticket)
    assert "已结单" in panel and 'id="action-satisfaction"' in panel  # the follow-up (回访) is what is left


async def test_a_script_posts_json_with_its_bearer_token_and_customer_service_reads_every_ticket(
    services, infra
) -> None:
    http, runtime, settings = services
    now = datetime.now(UTC)
    ticket = f"T-CS-{now:%H%M%S%f}"
    await produce(
        infra.kafka_bootstrap,
        runtime.topics.tickets.name,
        opened(ticket, reported_at=now - timedelta(minutes=3), occurred_at=now - timedelta(minutes=2)),
    )
    await _facts(runtime, ticket, lambda f: "gz-access-ops" in f.get("teams", []))

    def headers(who: Principal) -> dict:
        return bearer(settings, who, now=datetime.now(UTC))

    assert (await http.get(f"/tickets/{ticket}", headers=headers(CUSTOMER_SERVICE))).status_code == 200
    assert f'data-ticket="{ticket}"' in (await http.get("/", headers=headers(CUSTOMER_SERVICE))).text
    assert (await http.get(f"/tickets/{ticket}", headers=headers(OTHER_TEAM))).status_code == 404
    assert f'data-ticket="{ticket}"' not in (await http.get("/", headers=headers(OTHER_TEAM))).text

    took = await http.post(f"/tickets/{ticket}/actions/accept", json={}, headers=headers(AGENT))  # no CSRF needed
    assert 'id="action-ok"' in took.text
    note = await http.post(f"/tickets/{ticket}/actions/progress", json={"note": "脚本追加"}, headers=headers(AGENT))
    assert 'id="action-ok"' in note.text
    theirs = await http.post(f"/tickets/{ticket}/actions/progress", json={"note": "x"}, headers=headers(OTHER_TEAM))
    assert 'data-status="404"' in theirs.text or 'data-status="403"' in theirs.text  # dispatch's own rule


async def test_the_queue_renders_an_old_faults_highlights_from_the_database(settings_for, infra) -> None:
    settings = settings_for(ReportingSettings)
    now = datetime.now(UTC)
    reported = now - timedelta(minutes=125)
    clocks = [
        SlaClockStarted(
            ticket_id="T-OLD",
            clock=kind,
            policy_version="2026.1",
            started_at=reported,
            deadline=reported + span,
            occurred_at=reported,
        )
        for kind, span in (("internal_progress", timedelta(minutes=30)), ("restore", timedelta(hours=2)))
    ]
    async with _reporting(settings) as (http, runtime):
        await produce(
            infra.kafka_bootstrap,
            runtime.topics.tickets.name,
            opened("T-OLD", reported_at=reported, occurred_at=reported),
        )
        await produce(infra.kafka_bootstrap, runtime.topics.sla.name, *clocks)
        await _facts(runtime, "T-OLD", lambda f: len(f.get("clocks", [])) == 2)
        page = (await http.get("/", headers=bearer(settings, SUPERVISOR, now=datetime.now(UTC)))).text
    row = re.search(r'<tr data-ticket="T-OLD"[^>]*>', page).group(0)
    assert 'class="progress-due escalated breached"' in row  # the first render, by the service's clock
    assert page.count('data-mark="escalated"') == 2 and "已升级主任" in page and "恢复超时" in page
    assert f'data-at="{int((reported + timedelta(minutes=180)).timestamp() * 1000)}"' in page  # deputy GM, to come


async def test_without_dispatch_the_panel_says_so_and_offers_no_form(settings_for, infra) -> None:
    settings = settings_for(ReportingSettings, dispatch_url="http://127.0.0.1:9", forward_timeout_seconds=2)
    async with _reporting(settings) as (http, _):
        panel = await http.get("/fragments/tickets/T-1/actions", headers=bearer(settings, AGENT, now=datetime.now(UTC)))
        assert panel.status_code == 200 and 'id="actions-unavailable"' in panel.text and "<form" not in panel.text
        assert 'data-status="502"' in panel.text and "dispatch unreachable" in panel.text
