"""notify's HTTP edge: the outbox view of notifications (for operators and, later, the dashboard) and the delivery-
report callback of gateways.

`GET /v1/notifications` needs an operator token (huying.auth); agents and team leads see the notifications of their
teams' tickets (customer service every one), supervisors and admins all. Phones and emails are masked for every
role, in the recipient and in the text, and so are the names of customer contacts (huying.privacy).
`POST /v1/delivery-reports/{channel}` needs that channel's API key (`X-API-Key`, HUYING_NOTIFY_DELIVERY_REPORT_KEYS):
a key authenticates one channel only."""

# No `from __future__ import annotations`: FastAPI reads the body types from real annotation objects.
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Security
from pydantic import BaseModel, Field

from huying.access import TEAM_SCOPED, Permission, Principal, Role
from huying.auth import OPERATOR_RESPONSES, UNAUTHENTICATED, api_key, forbidden, require
from huying.privacy import mask_email, mask_name, mask_phone
from notify.channels.base import DeliveryReport
from notify.delivery.reports import settle
from notify.store import NOTIFICATIONS, STATES

OPERATOR = require(Permission.TICKETS)
GATEWAY = api_key(lambda settings: settings.delivery_report_keys)
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
        responses=UNAUTHENTICATED,
    )
    async def delivery_reports(
        request: Request,
        body: ReportsIn,
        channel: Annotated[str, Path(description="The channel name (HUYING_NOTIFY_CHANNELS).")],
        system: Annotated[str, Security(GATEWAY)],
    ) -> ReportsOut:
        if system != channel:
            raise forbidden(f"this API key is the channel {system}'s, not {channel}'s")
        runtime = request.app.state.runtime
        settled, unmatched = [], []
        for report in body.reports:
            found = await settle(
                runtime.db,
                DeliveryReport(report.gateway_id, report.delivered, report.status, report.at),
                topic=runtime.topics.notifications.name,
                now=runtime.clock.now(),
                channel_name=channel,
            )
            (settled if found else unmatched).append(found or report.gateway_id)
        if settled and runtime.relay:
            runtime.relay.wake()
        return ReportsOut(settled=settled, unmatched=unmatched)

    return r
