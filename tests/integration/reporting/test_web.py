"""The dashboard over real Kafka and the real database: sign in with a users-file password, the session cookie holds
an operator token the API accepts too, the queue and the ticket page show what the facts hold (only the operator's
teams' tickets to an agent), the live-update stream says when the read model moved, and an action without the page's
CSRF token, or that dispatch cannot take, is refused with the reason shown."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import pytest

from huying.auth import SESSION_COOKIE
from reporting.settings import ReportingSettings
from reporting.web.routes import changes
from tests.integration.reporting.conftest import running
from tests.support.auth import AGENT
from tests.unit.reporting.builders import dispatched, opened, started

pytestmark = pytest.mark.integration


@pytest.fixture
def reporting_settings(settings_for, tmp_path) -> ReportingSettings:
    # dispatch is not running in this test: the forwarded action meets a closed port (the reason is shown)
    return settings_for(ReportingSettings, dispatch_url="http://127.0.0.1:9", forward_timeout_seconds=2)


async def sign_in(http, username: str = "op-gz-01", password: str = "huying-demo"):
    return await http.post("/login", data={"username": username, "password": password})


def csrf_of(page: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page)
    assert found, "the page carries its CSRF token"
    return found.group(1)


async def test_without_a_session_pages_go_to_the_login_and_fragments_and_the_stream_say_401(reporting) -> None:
    http = reporting.http
    assert (await http.get("/")).status_code == 303 and (await http.get("/")).headers["location"] == "/login"
    fragment = await http.get("/fragments/queue", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"] == "/login"
    assert (await http.get("/events")).status_code == 401
    login = await http.get("/login")
    assert login.status_code == 200 and "登录" in login.text and 'name="password"' in login.text
    http.cookies.set(SESSION_COOKIE, "not-a-token")
    assert (await http.get("/")).status_code == 303
    http.cookies.clear()
    assert (await reporting.get("/", AGENT)).status_code == 200  # a script's Bearer token reads the page too


async def test_a_wrong_password_is_refused_and_the_right_one_opens_the_queue_from_the_facts(reporting) -> None:
    await reporting.produce("tickets", opened("T-GZ-1"), dispatched("T-GZ-1"), opened("T-SZ-1", city="深圳"),
                            dispatched("T-SZ-1", "sz-access-ops"))  # fmt: skip
    await reporting.produce("sla", started("T-GZ-1", "acceptance", at=1, due=11, subject="gz-access-ops"))
    await reporting.applied()
    http = reporting.http

    wrong = await sign_in(http, password="guess")
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text and SESSION_COOKIE not in wrong.cookies
    done = await sign_in(http)
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()

    page = await http.get("/")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    assert 'data-ticket="T-GZ-1"' in page.text and "待签收" in page.text  # dispatched, not accepted yet
    assert "T-SZ-1" not in page.text  # another team's ticket: not for an agent of gz-access-ops
    assert re.search(r'data-deadline="(\d+)"', page.text).group(1) == str(int(started(
        "T-GZ-1", "acceptance", at=1, due=11).deadline.timestamp() * 1000))  # fmt: skip
    assert 'class="countdown breach"' in page.text  # a day after its 10-minute deadline, by the service's clock
    # the session is an operator token: reporting's own API takes it (here: an agent, so 403 on the KPIs)
    assert (await http.get("/v1/summary")).status_code == 403

    detail = await http.get("/tickets/T-GZ-1")
    assert detail.status_code == 200 and 'data-clock="acceptance"' in detail.text and "TicketOpened" in detail.text
    assert "13800138000" not in detail.text  # the contact never reaches the facts
    assert (await http.get("/tickets/T-SZ-1")).status_code == 404

    english = await http.get("/lang/en?next=/", follow_redirects=True)
    assert 'lang="en"' in english.text and "to accept" in english.text
    fragment = await http.get("/fragments/queue", params={"team": "gz-access-ops", "state": "accepted"})
    assert "T-GZ-1" not in fragment.text and "No open tickets" in fragment.text


async def test_an_action_needs_the_pages_csrf_token_and_dispatchs_refusal_is_shown(reporting) -> None:
    await reporting.produce("tickets", opened("T-1"), dispatched("T-1"))
    await reporting.applied()
    http = reporting.http
    await sign_in(http)
    page = await http.get("/tickets/T-1")
    assert (await http.post("/tickets/T-1/accept")).status_code == 403
    assert (await http.post("/tickets/T-1/accept", headers={"X-CSRF-Token": "0" * 32})).status_code == 403
    answer = await http.post("/tickets/T-1/accept", headers={"X-CSRF-Token": csrf_of(page.text)})
    assert answer.status_code == 200 and 'id="action-error"' in answer.text and "dispatch unreachable" in answer.text
    assert 'data-status="502"' in answer.text
    out = await http.post("/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and (await http.get("/")).status_code == 303


async def test_the_stream_says_changed_when_an_event_is_applied(reporting) -> None:
    disconnected = asyncio.Event()
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(runtime=reporting.runtime)),
                              is_disconnected=lambda: _flag(disconnected))  # fmt: skip
    stream = changes(request)
    assert await anext(stream) == "retry: 2000\n\n"
    waiting = asyncio.ensure_future(anext(stream))
    await reporting.produce("tickets", opened("T-9"))
    message = await asyncio.wait_for(waiting, timeout=60)
    assert message.startswith("event: changed\ndata: ")
    disconnected.set()
    await stream.aclose()


async def _flag(event: asyncio.Event) -> bool:
    return event.is_set()


async def test_another_users_file_is_read(settings_for, infra, tmp_path) -> None:
    from reporting.web.users import hash_password

    path = tmp_path / "users.yaml"
    path.write_text(f'users:\n  - {{username: x-1, role: supervisor, password_hash: "{hash_password("pw")}"}}\n')
    async with running(settings_for(ReportingSettings, users_file=path), infra.kafka_bootstrap) as r:
        assert (await sign_in(r.http, "x-1", "pw")).status_code == 303
        assert (await sign_in(r.http, "op-gz-01", "huying-demo")).status_code == 401
        assert (await r.http.get("/v1/summary")).status_code == 200  # a supervisor's session reads the KPIs


async def test_outside_development_the_demo_users_cannot_sign_in(settings_for, infra) -> None:
    async with running(settings_for(ReportingSettings, demo_users=False), infra.kafka_bootstrap) as r:
        refused = await sign_in(r.http)
        assert refused.status_code == 503 and "HUYING_REPORTING_USERS_FILE" in refused.text
        assert SESSION_COOKIE not in refused.cookies
    development = settings_for(ReportingSettings, demo_users=False, env="development")
    async with running(development, infra.kafka_bootstrap) as r:
        assert (await sign_in(r.http)).status_code == 303
