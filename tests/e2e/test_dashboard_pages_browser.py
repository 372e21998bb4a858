"""The dashboard's other pages in a real browser: Playwright driving Debian's Chromium against reporting and notify
served over HTTP on the real Kafka and database. A team lead signs in and, from events produced on Kafka (a mass
outage with two child tickets, a breached clock, an escalation that notify turns into notifications), sees the
incident with its children, the breach, the escalation and the notification outcomes with notify's message text;
the KPI page draws its charts from data equal to GET /v1/kpis; in English, the KPI XLSX and the quarterly report's PDF
are downloaded by clicking their links and read back (openpyxl; pdftoppm renders the PDF's first page, pdftotext finds
its Chinese title). Screenshots in .local/artifacts/dashboard/."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from huying.events import (
    EscalationRaised,
    IncidentOpened,
    NotificationFailed,
    SlaBreached,
    SlaClockStarted,
    TicketDispatched,
)
from huying.topics import Topics
from notify.app import create as create_notify
from notify.settings import NotifySettings
from notify.snapshots import TICKETS as NOTIFY_TICKETS
from reporting.app import create as create_reporting
from reporting.domain.facts import SHANGHAI
from reporting.settings import ReportingSettings
from tests.e2e import test_dashboard_browser as first_slice
from tests.support.kafka import produce, wait_until
from tests.support.serving import free_port, serving
from tests.unit.reporting.builders import opened

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".local" / "artifacts" / "dashboard"
WAIT_MS = 30_000
REPORT_MS = 180_000  # the quarterly PDF is rendered by WeasyPrint on a shared 2-core machine
TEAM = "gz-access-ops"  # tl-gz-01's team (reporting/config/users.yaml)
# The first slice's browser test's fixtures: Debian's Chromium, headless.
chromium_path, browser = first_slice.chromium_path, first_slice.browser


@pytest.fixture
async def services(infra, settings_for) -> AsyncIterator[tuple[str, Topics, NotifySettings]]:
    notify_port, reporting_port = free_port(), free_port()
    notify = settings_for(NotifySettings, http_port=notify_port)
    reporting = settings_for(ReportingSettings, http_port=reporting_port, notify_url=f"http://127.0.0.1:{notify_port}")
    with serving(create_notify(notify), notify_port), serving(create_reporting(reporting), reporting_port) as url:
        yield url, Topics(reporting.topic_prefix), notify


def _sla(ticket_id: str, clock: str) -> dict:
    return {"ticket_id": ticket_id, "clock": clock, "seq": 1, "policy_version": "2026.1", "producer": "sla-watch"}


async def a_mass_outage(
    bootstrap: str, topics: Topics, notify: NotifySettings, now: datetime, stamp: str
) -> dict[str, str]:
    """An incident in 广州 with two children of the team lead's team: one that made it (listed at its opening), one
    opened later naming it. The first child's contact clock is breached and it is escalated to the director (notify
    tells the branch director); the second's acceptance is breached and a notice of it failed at the gateway."""
    ids = {
        "incident": f"I-PG-{stamp}",
        "first": f"T-PG-{stamp}-1",
        "second": f"T-PG-{stamp}-2",
        "notice": f"N-PG-{stamp}",
    }
    first, second, parent = ids["first"], ids["second"], ids["incident"]
    at = now - timedelta(minutes=20)
    tickets = [
        opened(first, reported_at=at, occurred_at=at, product_family="internet", tier="standard",
               event_id=uuid.uuid4()),
        IncidentOpened(ticket_id=parent, category="access", city="广州", reported_at=at, child_ticket_ids=[first],
                       reason="3 or more ordinary customers reported a full outage of internet in 广州 within 30 min",
                       occurred_at=at + timedelta(minutes=1)),
        opened(second, reported_at=at + timedelta(minutes=2), occurred_at=at + timedelta(minutes=2), tier="silver",
               product_family="internet", parent_incident_id=parent, event_id=uuid.uuid4()),
        TicketDispatched(ticket_id=first, teams=[TEAM], occurred_at=at + timedelta(minutes=1)),
        TicketDispatched(ticket_id=second, teams=[TEAM], occurred_at=at + timedelta(minutes=3)),
    ]  # fmt: skip
    contact_due = at + timedelta(minutes=16)
    sla = [
        SlaClockStarted(**_sla(first, "contact"), started_at=at + timedelta(minutes=1), deadline=contact_due,
                        occurred_at=at + timedelta(minutes=1)),
        SlaBreached(**_sla(first, "contact"), deadline=contact_due, occurred_at=contact_due),
        EscalationRaised(**_sla(first, "escalation_director"), level=1, audience="director", occurred_at=now),
        SlaClockStarted(**_sla(second, "acceptance"), started_at=at + timedelta(minutes=3),
                        deadline=at + timedelta(minutes=13), occurred_at=at + timedelta(minutes=3)),
        SlaBreached(**_sla(second, "acceptance"), deadline=at + timedelta(minutes=13),
                    occurred_at=at + timedelta(minutes=13)),
    ]  # fmt: skip
    notice = NotificationFailed(notification_id=ids["notice"], dedup_key=f"{second}:receipt", ticket_id=second,
                                channel="sms", recipient_role="account_manager", attempts=3, error="SMS gateway 503",
                                occurred_at=now)  # fmt: skip
    await produce(bootstrap, topics.tickets.name, *tickets)
    # notify stamps a notification with the teams its ticket has when the notification is made, and shows it to
    # a team lead by them: the SLA events follow once notify knows the first child's team
    await wait_until(lambda: _notify_knows_team(notify, first), timeout=60)
    await produce(bootstrap, topics.sla.name, *sla)
    await produce(bootstrap, topics.notifications.name, notice)
    return ids


async def _notify_knows_team(settings: NotifySettings, ticket_id: str) -> bool:
    client = AsyncMongoClient(settings.mongodb_uri.get_secret_value())
    try:
        doc = await client[settings.database_name][NOTIFY_TICKETS].find_one({"_id": ticket_id}, {"teams": 1})
    finally:
        await client.close()
    return bool(doc and TEAM in doc.get("teams", []))


async def test_a_team_lead_reads_incidents_breaches_notifications_and_kpis_and_downloads_the_exports(
    services,
    browser,
    infra,
    tmp_path,
) -> None:
    from openpyxl import load_workbook
    from playwright.async_api import expect

    url, topics, notify = services
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    await page.goto(f"{url}/login")
    await page.fill("#username", "tl-gz-01")
    await page.fill("#password", "huying-demo")
    await page.click("#login")
    await expect(page.locator("#nav-kpis")).to_be_visible(timeout=WAIT_MS)  # a team lead: KPIs in the header

    now = datetime.now(UTC)
    ids = await a_mass_outage(infra.kafka_bootstrap, topics, notify, now, f"{now:%H%M%S}")
    await page.click("#nav-incidents")
    await expect(page.locator("h1")).to_have_text("群障事件及子工单", timeout=WAIT_MS)
    incident = page.locator(f'section[data-incident="{ids["incident"]}"]')
    await expect(incident).to_be_visible(timeout=WAIT_MS)  # arrives live: the stream said changed, htmx re-fetched
    await expect(incident.locator(f'tr[data-child="{ids["second"]}"]')).to_be_visible(timeout=WAIT_MS)
    await expect(incident.locator(f'tr[data-child="{ids["first"]}"]')).to_have_attribute("data-state", "dispatched")
    await expect(incident.locator(".children-count")).to_have_text("2")
    await expect(incident.locator(".city")).to_have_text("广州")
    await expect(incident.locator(".product-family")).to_have_text("internet")
    await page.screenshot(path=str(ARTIFACTS / "incidents.png"), full_page=True)

    await page.click("#nav-breaches")
    breach = page.locator(f'table.breaches tr[data-ticket="{ids["first"]}"][data-clock="contact"]')
    await expect(breach).to_be_visible(timeout=WAIT_MS)
    await expect(breach.locator(".cause")).to_have_text("未返单")
    escalation = page.locator(f'table.escalations tr[data-ticket="{ids["first"]}"]')
    await expect(escalation.locator(".audience")).to_have_text("分公司响应中心主任", timeout=WAIT_MS)
    other = page.locator(f'table.breaches tr[data-ticket="{ids["second"]}"][data-clock="acceptance"]')
    await expect(other).to_be_visible(timeout=WAIT_MS)
    await page.select_option("#filter-tier", "silver")  # the filter: the contact breach is the standard ticket's
    await expect(breach).to_have_count(0, timeout=WAIT_MS)
    await expect(other).to_be_visible()
    await page.select_option("#filter-tier", "")
    await expect(breach).to_be_visible(timeout=WAIT_MS)
    await page.screenshot(path=str(ARTIFACTS / "breaches.png"), full_page=True)

    await page.click("#nav-notifications")
    failed = page.locator(f'tr[data-notification="{ids["notice"]}"]')
    await expect(failed).to_have_attribute("data-outcome", "failed", timeout=WAIT_MS)
    await expect(failed.locator(".error")).to_have_text("SMS gateway 503")
    # notify turned the escalation into notifications (the embedded outbox records them: sent) and its outbox
    # view gives the message text, read with the team lead's own token
    told = page.locator(f'tr[data-ticket="{ids["first"]}"][data-outcome="sent"]').first
    await expect(told).to_be_visible(timeout=60_000)
    await expect(told.locator(".text")).not_to_be_empty(timeout=WAIT_MS)
    await expect(page.locator("#notify-down")).to_have_count(0)
    await page.screenshot(path=str(ARTIFACTS / "notifications.png"), full_page=True)

    await page.click("#nav-kpis")
    await expect(page.locator("#chart-rates svg")).to_be_visible(timeout=WAIT_MS)  # ECharts drew it
    await expect(page.locator("#chart-volume svg")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("body")).to_have_attribute("data-kpi-charts", "drawn")
    today = f"{now.astimezone(SHANGHAI):%Y-%m-%d}"

    async def embedded() -> dict:
        return json.loads(await page.locator("#kpi-data").text_content())

    data = await embedded()
    assert data["chart"]["labels"][-1] == today
    answer = await (await page.request.get(f"{url}/v1/kpis", params=data["query"])).json()  # the session cookie
    by_day = {g["key"]["period"]: g["kpis"] for g in answer["groups"]}
    for name, values in data["chart"]["rates"].items():
        expected = by_day[today][name]["rate"]
        assert values[-1] == (None if expected is None else round(expected * 100, 2)), name
    assert data["chart"]["tickets"][-1] == by_day[today]["tickets"] >= 2
    await page.screenshot(path=str(ARTIFACTS / "kpis.png"), full_page=True)

    await page.select_option("#filter-period", "week")  # the fragment and its chart again, by ISO week
    await expect(page.locator("#kpi-data")).to_have_attribute("data-period", "week", timeout=WAIT_MS)
    weeks = (await embedded())["chart"]
    assert all("-W" in label for label in weeks["labels"]) and weeks["tickets"][-1] >= by_day[today]["tickets"]
    await expect(page.locator("#chart-rates svg")).to_be_visible(timeout=WAIT_MS)

    await page.click("#lang-en")
    await expect(page.locator("h1")).to_have_text("KPI trends", timeout=WAIT_MS)
    await expect(page.locator("#chart-rates svg")).to_be_visible(timeout=WAIT_MS)
    await page.screenshot(path=str(ARTIFACTS / "kpis-en.png"), full_page=True)

    async with page.expect_download(timeout=REPORT_MS) as xlsx_download:
        await page.click("#export-xlsx")
    xlsx = tmp_path / "kpis.xlsx"
    await (await xlsx_download.value).save_as(xlsx)
    sheet = load_workbook(xlsx, read_only=True)["KPIs"]  # English: the page's language
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    tickets = rows[0].index("Tickets")
    (row,) = [r for r in rows if r[0] == today]
    assert row[tickets] == by_day[today]["tickets"]

    async with page.expect_download(timeout=REPORT_MS) as pdf_download:
        await page.click("#export-quarterly-pdf")
    pdf = tmp_path / "quarterly.pdf"
    await (await pdf_download.value).save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    await asyncio.to_thread(
        subprocess.run,
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(ARTIFACTS / "quarterly-page1")], check=True, timeout=120)  # fmt: skip
    png = (ARTIFACTS / "quarterly-page1.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    text = (
        await asyncio.to_thread(
            subprocess.run, ["pdftotext", "-l", "2", str(pdf), "-"], check=True, capture_output=True, timeout=120
        )
    ).stdout
    assert "集团客户服务季报" in text.decode("utf-8")  # the filed report is Chinese whatever the page's language
    await context.close()
