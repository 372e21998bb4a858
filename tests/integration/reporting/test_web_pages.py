"""The dashboard's incident, breach and escalation, notification and KPI pages over real Kafka and the real database:
what the events made of the facts is on the pages, an agent reads only its teams' tickets (another team's child,
breach or notification is not shown; its ticket's notifications are 404), the KPI page is for team leads and above
and charts exactly what GET /v1/kpis answers, its export links are the routes the session cookie opens, notify's
silence is a notice (the outcomes still shown), and without a session every page goes to the login and every
fragment says 401."""

from __future__ import annotations

import json
import re

import pytest

from huying.auth import SESSION_COOKIE
from reporting.settings import ReportingSettings
from tests.support.auth import TEAM_LEAD
from tests.unit.reporting.builders import breached, dispatched, failed, opened, resolved, sent, started
from tests.unit.reporting.test_web_pages import escalated, incident

pytestmark = pytest.mark.integration
PAGES = ("/incidents", "/breaches", "/notifications", "/kpis")


@pytest.fixture
def reporting_settings(settings_for) -> ReportingSettings:
    # notify is not running: its message texts are missing and the page says so
    return settings_for(ReportingSettings, notify_url="http://127.0.0.1:9", forward_timeout_seconds=2)


async def sign_in(http, username: str) -> None:
    done = await http.post("/login", data={"username": username, "password": "huying-demo"})
    assert done.status_code == 303


async def a_mass_outage_in_two_teams(reporting) -> None:
    """Incident I-1 in 广州: T-GZ (gz-access-ops) listed at its opening, T-SZ (sz-access-ops) naming it later; each
    child with a breach, an escalation and a notification."""
    await reporting.produce(
        "tickets",
        opened("T-GZ", product_family="internet"), dispatched("T-GZ"), incident("I-1", "T-GZ", at=2),
        opened("T-SZ", at=3, parent_incident_id="I-1", tier="silver", product_family="internet"),
        dispatched("T-SZ", "sz-access-ops", at=4), resolved("T-SZ", restored=200, cause="interconnection", at=200),
    )  # fmt: skip
    await reporting.produce(
        "sla",
        started("T-GZ", "contact", at=1, due=16), breached("T-GZ", "contact", due=16), escalated("T-GZ", at=120),
        started("T-SZ", "restore", at=3, due=123), breached("T-SZ", "restore", due=123),
        escalated("T-SZ", level=2, audience="deputy_gm", at=183),
    )  # fmt: skip
    await reporting.produce("notifications", sent("N-GZ", "T-GZ", at=17), failed("N-SZ", "T-SZ", at=124, attempts=3))
    await reporting.applied()


async def test_without_a_session_every_page_goes_to_the_login_and_every_fragment_says_401(reporting) -> None:
    http = reporting.http
    for path in PAGES:
        page = await http.get(path)
        assert page.status_code == 303 and page.headers["location"] == "/login", path
        fragment = await http.get(f"/fragments{path}", headers={"HX-Request": "true"})
        assert fragment.status_code == 401 and fragment.headers["HX-Redirect"] == "/login", path
    mine = await http.get("/fragments/tickets/T-1/notifications", headers={"HX-Request": "true"})
    assert mine.status_code == 401
    http.cookies.set(SESSION_COOKIE, "forged")
    assert (await http.get("/incidents")).status_code == 303


async def test_an_agent_sees_its_teams_incident_children_breaches_escalations_and_notifications_only(
    reporting,
) -> None:
    await a_mass_outage_in_two_teams(reporting)
    http = reporting.http
    await sign_in(http, "op-gz-01")

    queue = await http.get("/")
    assert 'id="nav-incidents"' in queue.text and 'id="nav-kpis"' not in queue.text  # no KPIs for an agent

    page = await http.get("/incidents")
    assert page.status_code == 200 and 'data-incident="I-1"' in page.text and "群障事件及子工单" in page.text
    assert 'data-child="T-GZ"' in page.text and 'data-child="T-SZ"' not in page.text
    assert 'data-count="2"' in page.text and "其他班组的子工单" in page.text  # T-SZ counted, not listed
    assert "internet" in page.text and "专线接入类" in page.text and "广州" in page.text

    breaches = await http.get("/breaches")
    assert 'data-ticket="T-GZ" data-clock="contact"' in breaches.text and "T-SZ" not in breaches.text
    assert "分公司响应中心主任" in breaches.text and "运维副总经理" not in breaches.text
    assert "未返单" in breaches.text  # T-GZ is not resolved: its breach's cause is not known yet
    none = await http.get("/fragments/breaches", params={"tier": "silver"})
    assert "T-GZ" not in none.text and "没有超时" in none.text
    # the fragment brings the filter menus of the rows there are now (out of band), the page draws them in place
    assert 'id="breach-filters" hx-swap-oob="true"' in none.text and "hx-swap-oob" not in breaches.text
    assert 'value="gz-access-ops"' in none.text and 'value="sz-access-ops"' not in none.text

    outbox = await http.get("/notifications")
    assert 'data-notification="N-GZ"' in outbox.text and "N-SZ" not in outbox.text
    assert 'id="notify-down"' in outbox.text  # notify did not answer: the outcomes are still shown
    assert 'data-notification="N-SZ"' not in (await http.get("/fragments/notifications",
                                                              params={"ticket": "T-SZ"})).text  # fmt: skip
    mine = await http.get("/fragments/tickets/T-GZ/notifications")
    assert mine.status_code == 200 and 'data-notification="N-GZ"' in mine.text and "客户经理" in mine.text
    assert (await http.get("/fragments/tickets/T-SZ/notifications")).status_code == 404

    assert (await http.get("/kpis")).status_code == 403
    assert (await http.get("/fragments/kpis")).status_code == 403


async def test_a_team_lead_sees_the_kpi_chart_of_what_v1_kpis_answers_and_its_exports_open_with_the_cookie(
    reporting,
) -> None:
    await a_mass_outage_in_two_teams(reporting)
    http = reporting.http
    await sign_in(http, "tl-gz-01")

    page = await http.get("/kpis", params={"period": "day", "n": "7"})
    assert page.status_code == 200 and 'id="nav-kpis"' in page.text and "/static/kpis.js" in page.text
    island = re.search(r'<script type="application/json" id="kpi-data"[^>]*>(.*?)</script>', page.text, re.S)
    data = json.loads(island.group(1))
    assert data["chart"]["labels"][-1] == "2026-03-03" and len(data["chart"]["labels"]) == 7  # the clock: T0 + 1 day
    answer = (await reporting.get("/v1/kpis", TEAM_LEAD, **data["query"])).json()
    by_day = {g["key"]["period"]: g["kpis"] for g in answer["groups"]}
    assert set(by_day) == {"2026-03-02"}
    day = data["chart"]["labels"].index("2026-03-02")
    for name, values in data["chart"]["rates"].items():
        expected = by_day["2026-03-02"][name]["rate"]
        assert values[day] == (None if expected is None else round(expected * 100, 2)), name
    assert data["chart"]["tickets"][day] == by_day["2026-03-02"]["tickets"] == 3  # the incident counts too (kpis)
    assert data["chart"]["breaches"][day] == 2

    weekly = await http.get("/fragments/kpis", params={"period": "week", "n": "2"})
    week = json.loads(re.search(r'id="kpi-data"[^>]*>(.*?)</script>', weekly.text, re.S).group(1))["chart"]
    assert week["labels"] == ["2026-W09", "2026-W10"] and week["tickets"] == [0, 3]

    for link in ("export-csv", "export-xlsx", "export-quarterly-xlsx", "export-quarterly-pdf"):
        href = re.search(rf'id="{link}" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
        answer = await http.get(href)  # the session cookie only, as the browser sends it
        assert answer.status_code == 200, (link, answer.text[:300])
        assert answer.headers["content-disposition"].startswith("attachment"), link
