"""The dashboard's pages (one origin for the browser): login and logout, the open queue and its fragment, a
ticket's detail with the operator actions dispatch allows it (each forwarded to dispatch with the operator's own
token), and the live-update stream.

Sessions: the `huying_session` cookie (HttpOnly, SameSite=Lax), or for a script an `Authorization: Bearer`
header, holds an operator token minted with `huying.token`, so the services that read it (reporting's API, dispatch
when an action is forwarded) see the same operator. A POST made with the cookie must also carry the page's CSRF
token (`X-CSRF-Token`, or the form field `csrf`): an HMAC of the session under the token secret, so another site
cannot make the browser act.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from huying.access import Principal, Role, reads_ticket, ticket_scope
from huying.auth import SESSION_COOKIE
from huying.rebuild import LOG_POSITIONS
from huying.token import InvalidToken, mint, signing_secret, verify
from reporting import store
from reporting.domain.facts import SHANGHAI
from reporting.store import FACTS
from reporting.web import actions as acts
from reporting.web import dispatch_client as dc
from reporting.web import highlights
from reporting.web import queue as q
from reporting.web.i18n import LANG_COOKIE, LANGUAGES, language, translator
from reporting.web.users import authenticate, demo_refused, load_users

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
QUEUE_LIMIT = 500  # rows one queue render shows, nearest to breach first (our choice: a shift's screenful and more)
HEARTBEAT_SECONDS = 15.0  # a comment line on a quiet stream, so proxies keep it open


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _local(value: datetime | str | None) -> str:
    """A time as the center reads it (Shanghai); an entry's time is an ISO string."""
    if not value:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S")


ENV.filters["ms"] = _ms
ENV.filters["local"] = _local


@cache
def _users(path: Path) -> dict[str, Any]:
    return load_users(path)


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def credential(request: Request) -> tuple[str, bool]:
    """The operator token of a request and whether it came as a Bearer header (a script's, which no other site can
    make the browser send; the cookie is the browser's session)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token, True
    return request.cookies.get(SESSION_COOKIE, ""), False


def session(request: Request) -> Principal | None:
    token, _ = credential(request)
    if not token:
        return None
    runtime = _runtime(request)
    try:
        return verify(runtime.settings, token, now=runtime.clock.now())
    except InvalidToken:
        return None


def csrf_token(request: Request) -> str:
    secret = signing_secret(_runtime(request).settings).encode()
    return hmac.new(secret, request.cookies.get(SESSION_COOKIE, "").encode(), hashlib.sha256).hexdigest()[:32]


def _csrf_ok(request: Request, offered: str | None) -> bool:
    if credential(request)[1]:
        return True  # a Bearer header: not a cross-site request (a browser never adds one by itself)
    return bool(offered) and hmac.compare_digest(offered or "", csrf_token(request))


def _lang(request: Request) -> str:
    return language(request.cookies.get(LANG_COOKIE))


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    body = ENV.get_template(name).render(t=translator(lang), lang=lang, request=request, **context)
    return HTMLResponse(body, status_code=status)


def _to_login(request: Request) -> Response:
    """No session: a page redirects to the login form; an htmx request is told to (HX-Redirect) with a 401."""
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse("/login", status_code=303)


def _cs_teams(request: Request) -> list[str]:
    """Customer service's teams, whose members read every ticket: the shared setting HUYING_CUSTOMER_SERVICE_TEAMS
    that sla-watch reads too (dispatch reads its roster's, and warns at start-up when the two differ)."""
    return list(_runtime(request).settings.customer_service_teams)


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "") for k in q.FILTERS}


async def _visible_facts(request: Request, who: Principal, filters: dict[str, str]) -> list[dict[str, Any]]:
    """The queue's facts this operator may read (every team's for supervisors, admins and customer service, their
    teams' otherwise), nearest to breach first, filtered and limited in the database (store.open_queue)."""
    runtime = _runtime(request)
    scope = ticket_scope(who, _cs_teams(request))
    return await store.open_queue(runtime.db, teams=scope, limit=QUEUE_LIMIT, filters=filters, now=runtime.clock.now())


async def _queue_context(request: Request, who: Principal) -> dict[str, Any]:
    now = _runtime(request).clock.now()
    filters = _filters(request)
    facts = await _visible_facts(request, who, filters)
    # The filter menus offer what the unfiltered queue holds (its first page): one more read only when filtering.
    unfiltered = facts if not any(filters.values()) else await _visible_facts(request, who, {})
    rows = highlights.decorate(q.queue(facts, now, filters), facts, now)
    return {"rows": rows, "choices": q.choices(q.queue(unfiltered, now, {})), "filters": filters, "now": now}


async def _ticket(request: Request, who: Principal, ticket_id: str) -> dict[str, Any] | None:
    doc = await _runtime(request).db[FACTS].find_one({"_id": ticket_id}, {"applied": 0, "kpi": 0, "by_team": 0})
    if doc is None or not reads_ticket(who, doc.get("teams", []), _cs_teams(request)):
        return None  # another team's ticket is "not found" to an agent, as in dispatch
    doc["history"] = sorted(doc.pop("log", []), key=lambda e: e["at"])
    return doc


def _page(request: Request, who: Principal) -> dict[str, Any]:
    return {"who": who, "csrf": csrf_token(request), "server_now": _runtime(request).clock.now()}


def router() -> APIRouter:
    web = APIRouter(include_in_schema=False)  # the browser's pages; the API is in reporting.api

    @web.get("/login")
    async def login_form(request: Request) -> Response:
        return render(request, "login.html", error=None, username="")

    @web.post("/login")
    async def login(request: Request, username: str = Form(""), password: str = Form("")) -> Response:
        runtime = _runtime(request)
        settings = runtime.settings
        if demo_refused(settings.users_file, settings.env, settings.demo_users):
            return render(request, "login.html", status=503, error="demo_users_refused", username=username)
        user = authenticate(_users(settings.users_file), username, password)
        if user is None:
            return render(request, "login.html", status=401, error="bad_login", username=username)
        ttl = timedelta(hours=runtime.settings.session_hours)
        token = mint(runtime.settings, sub=user.username, role=user.role, teams=user.teams, name=user.name,
                     now=runtime.clock.now(), ttl=ttl)  # fmt: skip
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, max_age=int(ttl.total_seconds()), httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")  # fmt: skip
        return response

    @web.post("/logout")
    async def logout(request: Request, csrf: str = Form("")) -> Response:
        if session(request) is not None and not _csrf_ok(request, csrf or request.headers.get("X-CSRF-Token")):
            return Response("missing or wrong CSRF token", status_code=403)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @web.get("/lang/{code}")
    async def switch_language(code: str, request: Request, next: str = "/") -> Response:
        target = next if next.startswith("/") and not next.startswith("//") else "/"  # never off this origin
        response = RedirectResponse(target, status_code=303)
        if code in LANGUAGES:
            response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
        return response

    @web.get("/")
    async def dashboard(request: Request) -> Response:
        who = session(request)
        if who is None:
            return _to_login(request)
        return render(request, "dashboard.html", **_page(request, who), **await _queue_context(request, who))

    @web.get("/fragments/queue")
    async def queue_fragment(request: Request) -> Response:
        who = session(request)
        if who is None:
            return _to_login(request)
        return render(request, "_queue.html", **await _queue_context(request, who))

    @web.get("/tickets/{ticket_id}")
    async def ticket_page(ticket_id: str, request: Request) -> Response:
        who = session(request)
        if who is None:
            return _to_login(request)
        doc = await _ticket(request, who, ticket_id)
        status = 200 if doc else 404
        return render(request, "ticket.html", status=status, **_page(request, who), ticket=doc, ticket_id=ticket_id,
                      message=None, now=_runtime(request).clock.now())  # fmt: skip

    @web.get("/fragments/tickets/{ticket_id}")
    async def ticket_fragment(ticket_id: str, request: Request) -> Response:
        who = session(request)
        if who is None:
            return _to_login(request)
        doc = await _ticket(request, who, ticket_id)
        return render(request, "_ticket.html", status=200 if doc else 404, ticket=doc, ticket_id=ticket_id,
                      now=_runtime(request).clock.now())  # fmt: skip

    @web.get("/fragments/tickets/{ticket_id}/actions")
    async def actions_fragment(ticket_id: str, request: Request) -> Response:
        who = session(request)
        if who is None:
            return _to_login(request)
        return render(request, "_actions.html", **await _actions_context(request, who, ticket_id))

    @web.post("/tickets/{ticket_id}/accept")  # the first slice's route, kept: the accept action
    async def accept(ticket_id: str, request: Request) -> Response:
        return await _act(request, ticket_id, "accept")

    @web.post("/tickets/{ticket_id}/actions/{action}")
    async def act(ticket_id: str, action: str, request: Request) -> Response:
        return await _act(request, ticket_id, action)

    @web.get("/events")
    async def events(request: Request) -> Response:
        who = session(request)
        if who is None:
            return Response(status_code=401)
        return StreamingResponse(changes(request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})  # fmt: skip

    return web


async def forward(request: Request, path: str, body: dict[str, Any]) -> tuple[int, str]:
    """POST an operator action to dispatch with the operator's own token; (status, dispatch's reason or error)."""
    status, reason, _ = await dc.call(_runtime(request).settings, credential(request)[0], "POST", path, body)
    return status, reason


async def _actions_context(request: Request, who: Principal, ticket_id: str) -> dict[str, Any]:
    """The ticket as dispatch shows it to this operator: the actions its state allows, as forms; when dispatch does
    not answer (or does not know the ticket yet), no forms and dispatch's status and reason instead."""
    status, reason, ticket = await dc.call(_runtime(request).settings, credential(request)[0], "GET",
                                           dc.ticket_path(ticket_id))  # fmt: skip
    ticket = ticket or {}
    return {
        "ticket_id": ticket_id,
        "code": status,
        "reason": reason,
        "dispatch": ticket,
        "offered": acts.offered(ticket.get("allowed_actions", [])),
        "my_teams": acts.my_teams(ticket, who.teams),
    }


async def _act(request: Request, ticket_id: str, name: str) -> Response:
    """One operator action: checked (session, CSRF, a known action, a well-formed form), forwarded to dispatch, and
    answered with the `_action.html` fragment (200 either way, so htmx swaps it in; the outcome is in the fragment and
    its data-status). A JSON body (a script's) is forwarded as it is; a form is turned into the command's JSON."""
    who = session(request)
    if who is None:
        return _to_login(request)
    json_body = request.headers.get("content-type", "").startswith("application/json")
    form = {} if json_body else dict(await request.form())
    if not _csrf_ok(request, request.headers.get("X-CSRF-Token") or str(form.get("csrf", "")) or None):
        return Response("missing or wrong CSRF token", status_code=403)
    action = acts.ACTIONS.get(name)
    if action is None:
        return render(request, "_action.html", ok=False, code=404, action=name,
                      reason=f"no action {name!r} (dispatch's actions: {', '.join(acts.ORDER)})")  # fmt: skip
    now = _runtime(request).clock.now()
    try:
        body = await request.json() if json_body else acts.body_from_form(action, form, now=now)
        if not isinstance(body, dict):
            raise ValueError("the body is not a JSON object")
    except ValueError as error:  # a FormError names the field
        return render(request, "_action.html", ok=False, code=422, action=name, reason=str(error))
    status, reason = await forward(request, dc.ticket_path(ticket_id, action.path), body)
    ok = 200 <= status < 300
    response = render(request, "_action.html", ok=ok, code=status, reason=reason, action=name)
    if ok:
        response.headers["HX-Trigger"] = "huying:acted"  # the actions panel re-fetches: the state moved on
    return response


async def change_marker(db: Any) -> int:
    """A number that grows whenever the events read model applied a record: the sum of its recorded positions
    (huying.rebuild), the same for every replica reading the same database."""
    found = db[LOG_POSITIONS].find({"model": "events"}, {"next_offset": 1})
    return sum([int(doc.get("next_offset", 0)) async for doc in found])


async def changes(request: Request) -> AsyncIterator[str]:
    """Server-sent events: `changed` whenever the read model moved. The page re-fetches its fragments on each one
    and on every (re)connect, so nothing missed while disconnected leaves it stale."""
    runtime = _runtime(request)
    poll = runtime.settings.sse_poll_seconds
    yield "retry: 2000\n\n"
    last, quiet = await change_marker(runtime.db), 0.0
    while not await request.is_disconnected():
        await asyncio.sleep(poll)
        marker = await change_marker(runtime.db)
        if marker != last:
            last, quiet = marker, 0.0
            yield f"event: changed\ndata: {marker}\n\n"
        else:
            quiet += poll
            if quiet >= HEARTBEAT_SECONDS:
                quiet = 0.0
                yield ": heartbeat\n\n"


def query_string(filters: dict[str, str]) -> str:
    return urlencode({k: v for k, v in filters.items() if v})


ENV.globals["query_string"] = query_string
ENV.globals["Role"] = Role
