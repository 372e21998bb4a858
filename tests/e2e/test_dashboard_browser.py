"""The dashboard in a real browser: Playwright driving Debian's Chromium (never a downloaded browser) against
reporting and dispatch served over HTTP on the real Kafka and database. An operator signs in, a ticket reported while
the page is open appears without a reload (dispatch opens and dispatches it; reporting's facts feed the page by SSE),
its countdown changes colour as the page clock is fast-forwarded past 50, 75 and 100 % of its allowance, the operator
accepts it (reporting forwards to dispatch with the operator's token) and switches to English. Screenshots are saved
to .local/screenshots/ (dashboard.png, and dashboard-breach.png with the overdue countdown)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn

from dispatch.app import create as create_dispatch
from dispatch.settings import DispatchSettings
from huying.events import SlaClockStarted
from huying.topics import Topics
from reporting.app import create as create_reporting
from reporting.settings import ReportingSettings
from tests.support.kafka import produce
from tests.unit.dispatch.builders import opened

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / ".local" / "screenshots"
WAIT_MS = 30_000  # the longest any expectation waits (Playwright polls the DOM meanwhile)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app, port: int) -> Iterator[str]:
    """The app served by uvicorn in a thread of its own (its own event loop, its lifespan: Kafka consumers and all)
    until the block ends; yields its base URL once /readyz answers 200."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"{url} did not become ready")
            time.sleep(0.2)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


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


async def test_an_operator_sees_a_new_ticket_arrive_watches_its_countdown_accepts_it_and_reads_english(
    services, browser, infra
) -> None:
    from playwright.async_api import expect

    url, topics = services
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    now = datetime.now(UTC)
    await page.clock.install(time=now)  # the page's clock starts at the real time and runs, until fast-forwarded

    await page.goto(f"{url}/")
    await expect(page.locator("#username")).to_be_visible(timeout=WAIT_MS)  # no session: the login form
    await page.fill("#username", "op-gz-01")
    await page.fill("#password", "wrong")
    await page.click("#login")
    await expect(page.locator("#login-error")).to_be_visible(timeout=WAIT_MS)
    await page.fill("#password", "huying-demo")
    await page.click("#login")
    await expect(page.locator("h1")).to_have_text("待办工单", timeout=WAIT_MS)
    await expect(page.locator("#live.on")).to_be_visible(timeout=WAIT_MS)  # the event stream is connected

    # A ticket reported now, while the page is open: dispatch opens and dispatches it, sla-watch's restore clock
    # (produced here: one hour's allowance) gives the deadline.
    ticket = f"T-E2E-{now:%H%M%S}"
    report = opened(ticket, reported_at=now, occurred_at=now)
    clock = SlaClockStarted(ticket_id=ticket, clock="restore", policy_version="test", started_at=now,
                            deadline=now + timedelta(hours=1), occurred_at=now)  # fmt: skip
    await produce(infra.kafka_bootstrap, topics.tickets.name, report)
    await produce(infra.kafka_bootstrap, topics.sla.name, clock)

    row = page.locator(f'tr[data-ticket="{ticket}"]')
    await expect(row).to_be_visible(timeout=WAIT_MS)  # no reload: the SSE said "changed", htmx re-fetched
    await expect(row).to_have_attribute("data-state", "dispatched", timeout=WAIT_MS)
    countdown = row.locator(".countdown")
    await expect(countdown).to_have_attribute("data-level", "ok", timeout=WAIT_MS)
    await expect(row.locator(".badge.tier-gold")).to_have_text("金")

    for minutes, level in ((31, "half"), (15, "late"), (15, "breach")):  # 31, 46 and 61 of 60 minutes used
        await page.clock.fast_forward(minutes * 60_000)
        await expect(countdown).to_have_attribute("data-level", level, timeout=WAIT_MS)
    await expect(countdown).to_contain_text("−")  # overdue
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "dashboard-breach.png"), full_page=True)

    await row.locator("a").click()
    await expect(page.locator('tr[data-clock="restore"]')).to_be_visible(timeout=WAIT_MS)
    await page.click("#accept")
    await expect(page.locator("#action-ok")).to_be_visible(timeout=WAIT_MS)  # dispatch took it
    await expect(page.locator("#ticket-state")).to_contain_text("处理中", timeout=WAIT_MS)  # TicketAccepted → facts
    await page.click("#accept")  # a second accept: dispatch refuses, and the page says why
    await expect(page.locator("#action-error")).to_contain_text("409", timeout=WAIT_MS)

    await page.goto(f"{url}/")
    await page.click("#lang-en")
    await expect(page.locator("h1")).to_have_text("Open tickets", timeout=WAIT_MS)
    await expect(row).to_have_attribute("data-state", "accepted", timeout=WAIT_MS)
    await expect(row.locator(".state")).to_have_text("in progress")
    await page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    await context.close()
