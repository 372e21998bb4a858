"""notify's HTTP edge: the outbox view of notifications (for operators and, later, the dashboard) and the delivery-
report callback of gateways.

`GET /v1/notifications` needs an operator token (huying.auth); agents and team leads see the notifications of their
teams' tickets (customer service every one), supervisors and admins all. Phones and emails are masked for every
role, in the recipient and in the text, and so are the names of customer contacts (huying.privacy).
`POST /v1/delivery-reports/{channel}` needs that channel's API key (`X-API-Key`, HUYING_NOTIFY_DELIVERY_REPORT_KEYS;
a key authenticates one channel only), or, for a channel in HUYING_NOTIFY_SIGNED_REPORT_CHANNELS, the platform's
signature on the callback, which the channel checks."""

# No `from __future__ import annotations`: FastAPI reads the body types from real annotation objects.
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field, ValidationError

from huying.access import TEAM_SCOPED, Permission, Principal, Role
from huying.auth import OPERATOR_RESPONSES, UNAUTHENTICATED, forbidden, matching_system, require, unauthenticated
from huying.privacy import mask_email, mask_name, mask_phone
from notify.channels.base import DeliveryReport
from notify.channels.httpsms.template import CallbackRejected
from notify.delivery.reports import settle
from notify.store import NOTIFICATIONS, STATES

OPERATOR = require(Permission.TICKETS)
GATEWAY_KEY = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="gatewayKey", description="The channel's delivery-report API key."
)
WORKER = "notify_worker"  # the delivery worker in the broker's context (notify.app)
CUSTOMER_AUDIENCES = frozenset({"customer_contact"})
_PHONE = re.compile(r"(?<!\d)1\d{10}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SHOWN = (
    "dedup_key", "rule_id", "event_id", "event_type", "ticket_id", "audience", "channel", "channel_name",
    "delivered_kind", "template", "locale", "urgent", "gap", "state", "attempts", "due_at", "sent_at", "delivered_at",
    "error", "note", "gateway_ids", "created_at", "updated_at",
)  # fmt: skip


class ReportIn(BaseModel):
    gateway_id: str = Field(min_length=1, description="The gateway's message id, as its submit answer gave it.")
    delivered: bool = Field(description="True: delivered to the handset / mailbox / endpoint.")
    status: str = Field(min_length=1, description="The gateway's own word.", examples=["DELIVRD"])
    at: datetime | None = Field(None, description="When the gateway says it happened (timezone-aware).")


class ReportsIn(BaseModel):
    reports: list[ReportIn] = Field(min_length=1, max_length=1000)


class ReportsOut(BaseModel):
    settled: list[str] = Field(description="Notification ids these reports settled now.")
    unmatched: list[str] = Field(description="Gateway ids that matched no unsettled notification of the channel.")


def _mask_text(text: str) -> str:
    return _EMAIL.sub(lambda m: mask_email(m.group()), _PHONE.sub(lambda m: mask_phone(m.group()), text))


def present(doc: dict[str, Any]) -> dict[str, Any]:
    """A notification as the outbox view shows it: personal data masked."""
    body = {"id": doc["_id"], **{k: doc.get(k) for k in _SHOWN}}
    recipient = dict(doc.get("recipient") or {})
    for key, mask in (("phone", mask_phone), ("email", mask_email)):
        if recipient.get(key):
            recipient[key] = mask(recipient[key])
    if recipient.get("name") and doc.get("audience") in CUSTOMER_AUDIENCES:
        recipient["name"] = mask_name(recipient["name"])
    body["recipient"] = recipient
    body["text"] = _mask_text(doc["text"]) if doc.get("text") else None
    body["history"] = [{k: v for k, v in h.items()} for h in doc.get("history") or []]
    return body


def _scope(request: Request, principal: Principal) -> dict[str, Any]:
    cs_teams = set(request.app.state.runtime.settings.customer_service_teams)
    if Role(principal.role) in TEAM_SCOPED and not cs_teams.intersection(principal.teams):
        return {"teams": {"$in": list(principal.teams)}}
    return {}


async def _reports(request: Request, settings: Any, channel: str, target: Any, key: str | None) -> list[DeliveryReport]:
    """Authenticate and read a callback. A channel in `signed_report_channels` is authenticated by the platform's
    signature, which the channel checks (`callback`); any other needs its own API key, and its body is read by the
    channel's `callback` (the platform's push shape) if it has one, else as `ReportsIn`."""
    body = await request.body()
    if channel in settings.signed_report_channels:
        try:
            return list(target.callback(body, request.headers))
        except CallbackRejected as error:
            raise unauthenticated(f"the callback's signature does not hold: {error}", scheme="Signature") from None
    system = matching_system(settings.delivery_report_keys, key)
    if system is None:
        reason = "this channel's API key (X-API-Key) is required" if not key else "unknown API key (X-API-Key)"
        raise unauthenticated(reason, scheme="ApiKey")
    if system != channel:
        raise forbidden(f"this API key is the channel {system}'s, not {channel}'s")
    try:
        if callable(getattr(target, "callback", None)):
            return list(target.callback(body, request.headers))
        parsed = ReportsIn.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    except (ValueError, CallbackRejected) as error:
        raise HTTPException(422, {"error": "invalid", "reason": str(error)[:300]}) from None
    return [DeliveryReport(r.gateway_id, r.delivered, r.status, r.at) for r in parsed.reports]


def router() -> APIRouter:
    r = APIRouter(tags=["notifications"])

    @r.get("/v1/notifications", summary="The outbox view: notifications, newest first", responses=OPERATOR_RESPONSES)
    async def list_notifications(
        request: Request,
        principal: Annotated[Principal, Security(OPERATOR)],
        ticket_id: Annotated[str | None, Query(description="Only this ticket's.")] = None,
        state: Annotated[Literal[STATES] | None, Query(description="Only in this state.")] = None,  # type: ignore[valid-type]
        channel: Annotated[
            Literal["sms", "email", "webhook", "outbox"] | None, Query(description="Only of this channel kind.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        query: dict[str, Any] = _scope(request, principal)
        for key, value in (("ticket_id", ticket_id), ("state", state), ("channel", channel)):
            if value is not None:
                query[key] = value
        db = request.app.state.runtime.db
        docs = await db[NOTIFICATIONS].find(query, {"outbox": 0, "variables": 0}).sort("created_at", -1).limit(
            limit).to_list()  # fmt: skip
        return {"notifications": [present(d) for d in docs]}

    @r.post(
        "/v1/delivery-reports/{channel}",
        summary="A gateway's delivery reports: settles sent and unknown notifications by the gateway's message id",
        responses={**UNAUTHENTICATED, 403: {"description": "The API key is another channel's."},
                   404: {"description": "No such channel."}},
        openapi_extra={"requestBody": {"content": {"application/json": {"schema": ReportsIn.model_json_schema()}}}},
    )  # fmt: skip
    async def delivery_reports(
        request: Request,
        channel: Annotated[str, Path(description="The channel name (notify.channels.config).")],
        key: Annotated[str | None, Security(GATEWAY_KEY)] = None,
    ) -> ReportsOut:
        runtime = request.app.state.runtime
        target = runtime.broker.context.get(WORKER).channels.named(channel)
        if target is None:
            raise HTTPException(404, {"error": "not_found", "reason": f"no channel {channel}"})
        reports = await _reports(request, runtime.settings, channel, target, key)
        settled, unmatched = [], []
        for report in reports:
            found = await settle(
                runtime.db, report, topic=runtime.topics.notifications.name, now=runtime.clock.now(),
                channel_name=channel,
            )  # fmt: skip
            (settled if found else unmatched).append(found or report.gateway_id)
        if settled and runtime.relay:
            runtime.relay.wake()
        return ReportsOut(settled=settled, unmatched=unmatched)

    return r
