"""The dashboard in a real browser: Playwright driving Debian's Chromium (never a downloaded browser) against
reporting and dispatch served over HTTP on the real Kafka and database. An operator signs in; a ticket reported while
the page is open appears without a reload (dispatch opens and dispatches it; reporting's facts feed the page by SSE);
its countdown changes colour as the page clock is fast-forwarded past 50, 75 and 100 % of its allowance, and its row
is marked progress due (30 min), escalated to the director (120 min) and the deputy GM (180 min), then restore
breached (4 h) — in that order, computed in the browser. The operator takes the ticket through dispatch's actions on
its page (accept, a contact result refused for a missing reason and then given, a progress note, resolve; each
forwarded with the operator's token), switches to English, and a supervisor confirms and closes it: off the queue.
Screenshots go to .local/artifacts/dashboard/ (queue.png is the README's docs/images/dashboard.png)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatch.app import create as create_dispatch
from dispatch.settings import DispatchSettings
from huying.events import SlaClockStarted
from huying.topics import Topics
from reporting.app import create as create_reporting
from reporting.settings import ReportingSettings
from tests.support.kafka import produce
from tests.support.serving import free_port, serving
from tests.unit.dispatch.builders import opened

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / ".local" / "artifacts" / "dashboard"
WAIT_MS = 30_000  # the longest any expectation waits (Playwright polls the DOM meanwhile)


@pytest.fixture
async def services(infra, settings_for) -> AsyncIterator[tuple[str, Topics]]:
    dispatch_port, reporting_port = free_port(), free_port()
    dispatch = settings_for(DispatchSettings, http_port=dispatch_port)
    reporting = settings_for(
        ReportingSettings, http_port=reporting_port, dispatch_url=f"http://127.0.0.1:{dispatch_port}"
    )
    with serving(create_dispatch(dispatch), dispatch_port), serving(create_reporting(reporting), reporting_port) as url:
        yield url, Topics(reporting.topic_prefix)


@pytest.fixture
def chromium_path() -> str:
    if not CHROMIUM.exists():  # CI installs it (.ci/run); a silent skip would hide that the dashboard is untested
        pytest.fail(f"{CHROMIUM} is missing: the browser test needs Debian's Chromium (apt-get install chromium)")
    return str(CHROMIUM)


@pytest.fixture
async def browser(chromium_path: str):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


def _clocks(ticket: str, reported: datetime, *, restore_hours: float, progress_minutes: float | None):
    """The clocks sla-watch starts for a fault reported at `reported` (sla-policy.yaml): internal progress every
    30 min for every tier, the customer cadence (gold 30 min, silver 1 h, none below) and the restore limit."""
    spans = [("internal_progress", timedelta(minutes=30)), ("restore", timedelta(hours=restore_hours))]
    if progress_minutes:
        spans.append(("progress", timedelta(minutes=progress_minutes)))
    return [SlaClockStarted(ticket_id=ticket, clock=kind, policy_version="2026.1", started_at=reported,
                            deadline=reported + span, occurred_at=reported) for kind, span in spans]  # fmt: skip


async def _report(infra, topics: Topics, ticket: str, reported: datetime, tier: str, **clock_spans) -> None:
    await produce(infra.kafka_bootstrap, topics.tickets.name,
                  opened(ticket, tier=tier, reported_at=reported, occurred_at=reported))  # fmt: skip
    await produce(infra.kafka_bootstrap, topics.sla.name, *_clocks(ticket, reported, **clock_spans))


async def _sign_in(page, username: str) -> None:
    from playwright.async_api import expect

    await page.fill("#username", username)
    await page.fill("#password", "huying-demo")
    await page.click("#login")
    await expect(page.locator("#live.on")).to_be_visible(timeout=WAIT_MS)  # the event stream is connected


async def _take(page, action: str, button: str | None = None) -> None:
    """Submit an action's form; dispatch took it once the page says so and the panel shows the next version."""
    from playwright.async_api import expect

    panel = page.locator("#actions-panel")
    before = await panel.get_attribute("data-version")
    await page.click(button or f"#submit-{action}")
    await expect(page.locator(f'#action-ok[data-action="{action}"]')).to_be_visible(timeout=WAIT_MS)
    await expect(panel).not_to_have_attribute("data-version", before or "", timeout=WAIT_MS)


def _has(name: str):
    return re.compile(rf"(^|\s){name}(\s|$)")


async def test_an_operator_follows_a_ticket_from_report_to_close_watching_its_countdown_and_highlights(
    services, browser, infra
) -> None:
    from playwright.async_api import expect

    url, topics = services
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    now = datetime.now(UTC)
    await page.clock.install(time=now)  # the page's clock starts at the real time and runs, until fast-forwarded
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # The rest of the shift's queue: a gold fault two hours old (restore limit passed, escalated), a bronze one
    # 40 minutes old (progress due), a standard one just in.
    stamp = f"{now:%H%M%S}"
    await _report(infra, topics, f"T-{stamp}-A", now - timedelta(minutes=125), "gold", restore_hours=2,
                  progress_minutes=30)  # fmt: skip
    await _report(infra, topics, f"T-{stamp}-B", now - timedelta(minutes=40), "bronze", restore_hours=6,
                  progress_minutes=None)  # fmt: skip
    await _report(infra, topics, f"T-{stamp}-D", now - timedelta(minutes=5), "standard", restore_hours=8,
                  progress_minutes=None)  # fmt: skip

    await page.goto(f"{url}/")
    await expect(page.locator("#username")).to_be_visible(timeout=WAIT_MS)  # no session: the login form
    await page.fill("#username", "op-gz-01")
    await page.fill("#password", "wrong")
    await page.click("#login")
    await expect(page.locator("#login-error")).to_be_visible(timeout=WAIT_MS)
    await _sign_in(page, "op-gz-01")
    await expect(page.locator("h1")).to_have_text("待办工单", timeout=WAIT_MS)
    gold = page.locator(f'tr[data-ticket="T-{stamp}-A"]')
    await expect(gold).to_have_class(_has("breached"), timeout=WAIT_MS)
    await expect(gold.locator(".mark-escalated:not([hidden])")).to_have_text("已升级主任")
    await expect(page.locator(f'tr[data-ticket="T-{stamp}-B"]')).to_have_class(_has("progress-due"))

    # A silver fault reported now, while the page is open: dispatch opens and dispatches it; sla-watch's clocks
    # (produced here as its policy prices a silver intra-city fault) give the deadlines.
    ticket = f"T-{stamp}-C"
    await _report(infra, topics, ticket, now, "silver", restore_hours=4, progress_minutes=60)
    row = page.locator(f'tr[data-ticket="{ticket}"]')
    await expect(row).to_be_visible(timeout=WAIT_MS)  # no reload: the SSE said "changed", htmx re-fetched
    await expect(row).to_have_attribute("data-state", "dispatched", timeout=WAIT_MS)
    await expect(row.locator(".badge.tier-silver")).to_have_text("银")
    countdown = row.locator(".countdown")
    await expect(countdown).to_have_attribute("data-level", "ok", timeout=WAIT_MS)  # internal progress, due first
    await expect(row.locator(".mark:not([hidden])")).to_have_count(0)
    await page.screenshot(path=str(SCREENSHOTS / "queue.png"))

    for minutes, level in ((16, "half"), (7, "late"), (8, "breach")):  # 16, 23 and 31 of 30 minutes used
        await page.clock.fast_forward(minutes * 60_000)
        await expect(countdown).to_have_attribute("data-level", level, timeout=WAIT_MS)
    await expect(countdown).to_contain_text("−")  # overdue
    await expect(row).to_have_class(_has("progress-due"), timeout=WAIT_MS)
    await expect(row.locator(".mark-progress-due")).to_have_text("进展到期")
    await expect(row).not_to_have_class(_has("escalated"))
    await page.screenshot(path=str(SCREENSHOTS / "queue-progress-due.png"))

    await page.clock.fast_forward(90 * 60_000)  # 121 minutes: the director is told (seed 000 rule 7)
    await expect(row).to_have_class(_has("escalated"), timeout=WAIT_MS)
    await expect(row.locator(".mark-escalated:not([hidden])")).to_have_text("已升级主任")
    await expect(row).not_to_have_class(_has("breached"))  # silver: 4 hours to restore
    await page.clock.fast_forward(60 * 60_000)  # 181 minutes: the deputy GM
    await expect(row.locator(".mark-escalated:not([hidden])")).to_have_text("已升级副总", timeout=WAIT_MS)
    await expect(row).not_to_have_class(_has("breached"))
    await page.screenshot(path=str(SCREENSHOTS / "queue-escalated.png"))
    await page.clock.fast_forward(60 * 60_000)  # 241 minutes: past the restore limit
    await expect(row).to_have_class(_has("breached"), timeout=WAIT_MS)
    await expect(row.locator(".mark-breached")).to_have_text("恢复超时")
    await expect(row).to_have_class(_has("progress-due"))  # classes only come on
    await page.screenshot(path=str(SCREENSHOTS / "queue-breached.png"), full_page=True)

    # The ticket page: dispatch's allowed actions as forms, each forwarded with the operator's token.
    await row.locator("a").click()
    await expect(page.locator('tr[data-clock="restore"]')).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#action-accept")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#action-resolve")).to_have_count(0)  # dispatched: not yet
    await _take(page, "accept", "#accept")
    await expect(page.locator("#ticket-state")).to_contain_text("处理中", timeout=WAIT_MS)  # TicketAccepted → facts
    await page.click("#contact-reached-no")
    await page.click("#submit-contact")  # not reached, and no reason given: dispatch says which field
    refused = page.locator('#action-error[data-action="contact"]')
    await expect(refused).to_contain_text("422", timeout=WAIT_MS)
    await expect(refused).to_contain_text("not_reached_reason")
    await page.fill("#contact-not_reached_reason", "电话无人接听，已短信告知")
    await _take(page, "contact")
    await page.fill("#progress-note", "代维已上站，光缆中断点已定位，正在熔接")
    await page.check("#progress-customer_informed")
    await _take(page, "progress")
    await page.select_option("#resolve-cause_category", "operator_equipment")
    await page.fill("#resolve-cause", "光交箱内尾纤松动，已重新熔接")
    await _take(page, "resolve")
    await expect(page.locator("#ticket-state")).to_have_attribute("data-status", "resolved", timeout=WAIT_MS)
    await expect(page.locator("#dispatch-state")).to_have_text("已返单")
    csrf = await page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    again = await page.request.post(f"{url}/tickets/{ticket}/accept", headers={"X-CSRF-Token": csrf})
    assert 'data-status="409"' in await again.text()  # a second accept: dispatch refuses, with its reason
    await page.screenshot(path=str(SCREENSHOTS / "ticket-actions.png"), full_page=True)

    await page.goto(f"{url}/")
    await page.click("#lang-en")
    await expect(page.locator("h1")).to_have_text("Open tickets", timeout=WAIT_MS)
    await expect(row).to_have_attribute("data-state", "resolved", timeout=WAIT_MS)
    await expect(row.locator(".state")).to_have_text("restored")
    await expect(gold.locator(".mark-breached")).to_have_text("restore breached")
    await page.screenshot(path=str(SCREENSHOTS / "queue-en.png"), full_page=True)

    # Confirming with the customer and closing are customer service's, or a supervisor's.
    await page.click("#logout")
    await expect(page.locator("#username")).to_be_visible(timeout=WAIT_MS)
    await _sign_in(page, "sup-gd-01")
    await page.goto(f"{url}/tickets/{ticket}")
    await expect(page.locator("#action-confirm")).to_be_visible(timeout=WAIT_MS)
    await _take(page, "confirm")
    await _take(page, "close")
    await expect(page.locator("#dispatch-state")).to_have_text("closed")
    await expect(page.locator("#action-satisfaction")).to_be_visible()  # the follow-up (回访) is what is left
    await page.goto(f"{url}/")
    await expect(gold).to_be_visible(timeout=WAIT_MS)
    await expect(row).to_have_count(0, timeout=WAIT_MS)  # closed: off the open queue
    await context.close()
