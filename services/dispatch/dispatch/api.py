"""The operator HTTP API: read tickets and their history, and take every lifecycle action.

Every route needs an operator token (`Authorization: Bearer`, huying.auth). Errors: 401 no or bad token ·
403 not your team / not your role · 404 unknown ticket · 409 the state forbids
the action (with the state and the allowed actions) or the ticket changed since `expected_version` · 422 a
field is wrong (missing consent, a time in the future, …).
"""

# No `from __future__ import annotations` here: FastAPI reads the body types of the generated endpoints
# from real annotation objects (closure variables cannot be resolved from strings).
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Security

from dispatch import operations, store
from dispatch.domain import commands as c
from dispatch.domain.access import Forbidden, can_read, can_see_contacts
from dispatch.domain.involved import involved
from dispatch.domain.lifecycle import InvalidCommand, InvalidTransition, allowed_actions
from dispatch.domain.model import Ticket
from huying.access import Permission, Principal, Role
from huying.auth import OPERATOR_RESPONSES, require
from huying.privacy import mask_name, masked

OPERATOR = require(Permission.TICKETS)  # any operator; the ticket's teams and the action decide the rest

PATHS: dict[type[c.Command], tuple[str, str]] = {
    c.Dispatch: ("dispatch", "Dispatch to teams (派单): one work item each"),
    c.Accept: ("accept", "Accept your team's work item (签收)"),
    c.RecordContact: ("contact", "Record that the customer was contacted"),
    c.NoteProgress: ("progress", "Append progress (追加)"),
    c.Transfer: ("transfer", "Transfer a work item to another team (转派)"),
    c.Suspend: ("suspend", "Suspend with the customer's consent (挂起); a supervisor's call approves it"),
    c.ApproveSuspension: ("suspension/approve", "Approve the pending suspension (supervisor)"),
    c.Resume: ("resume", "Resume (解挂)"),
    c.RecordExclusion: ("exclusions", "Record an excluded interval (customer-caused or interconnection)"),
    c.Resolve: ("resolve", "Resolve your work item with cause and restored-at (返单)"),
    c.ConfirmRestoration: ("confirm", "Confirm restoration with the customer (customer service)"),
    c.Close: ("close", "Close"),
    c.Reopen: ("reopen", "Reopen within the reopen window"),
    c.Cancel: ("cancel", "Cancel"),
    c.RequestFaultReport: ("fault-report/request", "Record the customer's request for a written report"),
    c.SubmitFaultReport: ("fault-report", "Submit the written fault report (故障报告)"),
    c.RecordSatisfaction: ("satisfaction", "Record the follow-up satisfaction (回访)"),
    c.RecordLeaderInformed: ("leaders", "Record a leader informed of the fault, by hand (team lead or above)"),
    c.QualityCheck: ("quality-check", "Quality-check a returned ticket (monitoring center: supervisor or admin)"),
}


def _cs_teams(request: Request) -> list[str]:
    return list(operations.config_of(request.app.state.runtime).policy.customer_service_teams)


async def present(request: Request, ticket: Ticket, principal: Principal) -> dict[str, Any]:
    """The ticket as this operator may see it (contacts masked unless they must call the customer), with everyone
    involved, the fault report's data (`involved`)."""
    runtime = request.app.state.runtime
    customer = await operations.customer_of(runtime, ticket.customer_id)
    return _present(request, ticket, principal, customer, detail=True)


def _present(
    request: Request, ticket: Ticket, principal: Principal, customer: dict | None, *, detail: bool = False
) -> dict[str, Any]:
    body = ticket.model_dump(mode="json")
    if detail:
        body["involved"] = involved(ticket)
    body["allowed_actions"] = allowed_actions(ticket)
    if customer:
        body["customer"] = {k: v for k, v in customer.items() if k != "_id"}
    if not can_see_contacts(principal, ticket.open_teams(), _cs_teams(request)):
        body = masked(body)
    return body


# History details that name a customer's person: who asked for a fault report, whom the follow-up (回访) reached.
_PERSON_DETAILS = {"request_fault_report": "requested_by", "satisfaction": "reached"}


def _masked_history(body: dict[str, Any]) -> dict[str, Any]:
    body = masked(body)
    for entry in body["history"]:
        details, key = entry.get("details") or {}, _PERSON_DETAILS.get(entry.get("action", ""))
        if key and isinstance(details.get(key), str):
            details[key] = mask_name(details[key])
    return body


async def _guarded(run: Callable[[], Any]) -> Any:
    try:
        return await run()
    except operations.NotFound as error:
        raise HTTPException(404, {"error": "not_found", "reason": f"no ticket {error}"}) from error
    except Forbidden as error:
        raise HTTPException(403, {"error": "forbidden", "reason": str(error)}) from error
    except InvalidTransition as error:
        body = {"error": "invalid_transition", "reason": str(error), "state": error.state}
        raise HTTPException(409, body | {"allowed_actions": error.allowed}) from error
    except operations.Stale as error:
        body = {"error": "stale_version", "reason": str(error), "current_version": error.current}
        raise HTTPException(409, body) from error
    except InvalidCommand as error:
        detail = [{"type": "value_error", "loc": ["body", *error.field.split(".")], "msg": error.message}]
        raise HTTPException(422, detail) from error


def _action_endpoint(model: type[c.Command]) -> Callable[..., Any]:
    # A command without required fields (accept, resume, close, …) may be posted with no body at all.
    optional = not any(f.is_required() for f in model.model_fields.values())

    async def endpoint(
        ticket_id: str,
        request: Request,
        body: model = Body(None) if optional else Body(...),
        principal: Principal = Security(OPERATOR),
    ) -> dict[str, Any]:
        runtime = request.app.state.runtime
        body = body if body is not None else model()
        ticket = await _guarded(lambda: operations.act(runtime, ticket_id, body, principal))
        return await present(request, ticket, principal)

    endpoint.__name__ = f"ticket_{model.action}"
    return endpoint


def router() -> APIRouter:
    api = APIRouter(prefix="/v1/tickets", tags=["tickets"], responses=OPERATOR_RESPONSES)

    @api.get(
        "",
        summary="List tickets (yours, or all for supervisors, admins and customer service)",
        description="With a live `state` (opened … confirmed): every ticket in that state (the queue), in the "
        "queue's order: assurance level (AAA first), then the nearest restore deadline. Otherwise (no state, "
        "`closed` or `cancelled`): the tickets opened in the last `days` days, newest first.",
    )
    async def list_tickets(
        request: Request,
        state: str | None = None,
        team: str | None = None,
        limit: int = Query(50, gt=0),
        days: int | None = Query(None, gt=0, description="Opening window in days (default: the service's)."),
        principal: Principal = Security(OPERATOR),
    ) -> dict[str, Any]:
        runtime = request.app.state.runtime
        settings = runtime.settings
        sees_all = principal.is_role(Role.SUPERVISOR, Role.ADMIN) or can_read(principal, [], _cs_teams(request))
        teams = None if sees_all else list(principal.teams)
        if team is not None:
            teams = [team] if teams is None or team in teams else []
        now = runtime.clock.now()
        since = now - timedelta(days=min(days or settings.list_days, settings.list_max_days))
        limit = min(limit, settings.list_limit)
        tickets = await store.find(runtime.db, teams=teams, state=state, limit=limit, since=since, until=now)
        customers = await store.customers(runtime.db, [t.customer_id for t in tickets])
        return {"tickets": [_present(request, t, principal, customers.get(t.customer_id or "")) for t in tickets]}

    @api.get("/{ticket_id}", summary="One ticket, with its work items and the actions its state allows")
    async def get_ticket(ticket_id: str, request: Request, principal: Principal = Security(OPERATOR)) -> dict[str, Any]:
        ticket = await _guarded(lambda: operations.readable(request.app.state.runtime, ticket_id, principal))
        return await present(request, ticket, principal)

    @api.get("/{ticket_id}/history", summary="The append-only record: who did what, when, before and after")
    async def get_history(
        ticket_id: str, request: Request, principal: Principal = Security(OPERATOR)
    ) -> dict[str, Any]:
        runtime = request.app.state.runtime
        ticket, entries = await _guarded(lambda: operations.readable_history(runtime, ticket_id, principal))
        body = {"ticket_id": ticket_id, "version": ticket.version, "history": entries}
        return body if can_see_contacts(principal, ticket.open_teams(), _cs_teams(request)) else _masked_history(body)

    for model, (path, summary) in PATHS.items():
        api.add_api_route(
            f"/{{ticket_id}}/{path}", _action_endpoint(model), methods=["POST"], summary=summary, response_model=None
        )
    return api
