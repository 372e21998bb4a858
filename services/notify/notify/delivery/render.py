"""A recorded notification as the `Message` a channel sends: the template rendered strictly (a `TemplateError`
is the caller's failed send, never an empty text), addressed by the notification's channel kind."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notify.channels.base import Message
from notify.domain.templates import TemplateError, format_time
from notify.policy import Catalog

ADDRESS = {"sms": "phone", "email": "email", "webhook": "webhook"}


def message_for(doc: Mapping[str, Any], *, catalog: Catalog) -> Message:
    """Raises TemplateError when the text cannot be made (unknown template, missing variable, empty result)."""
    variables = doc.get("variables") or {}
    rendered = catalog.templates.render(doc["template"], doc["locale"], variables)
    kind, recipient, defaults = doc["channel"], doc.get("recipient") or {}, catalog.rules.defaults
    text = rendered.text
    if kind == "sms":
        text = rendered.sms(signature=defaults.signature, max_segments=defaults.sms_max_segments)
    if not text.strip():
        raise TemplateError(f"template {doc['template']}.{doc['locale']} rendered an empty text")
    field = ADDRESS.get(kind)
    to = (recipient.get(field) if field else None) or recipient.get("ref") or ""
    tz = ZoneInfo(catalog.rules.defaults.timezone)
    params = {k: _param(v, locale=doc["locale"], tz=tz) for k, v in variables.items()}
    return Message(
        notification_id=doc["_id"],
        idempotency_key=doc["dedup_key"],
        to=to,
        text=text,
        subject=rendered.subject if kind == "email" else None,
        ticket_id=doc.get("ticket_id"),
        template=doc["template"],
        params={k: v for k, v in params.items() if v is not None},
        locale=doc["locale"],
    )


def _param(value: Any, *, locale: str, tz: ZoneInfo) -> str | None:
    """A template parameter as text, for platforms that send by template code (times as the center reads them)."""
    if isinstance(value, datetime):
        return format_time(value, locale=locale, tz=tz)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value)
