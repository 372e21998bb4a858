"""dispatch's HTTP API as the dashboard calls it, always with the operator's own token (so dispatch applies its own
rules to the same operator): read a ticket with the actions its state allows, and post an action.

Every failure comes back as (status, reason), never as an exception: dispatch unreachable is 502 with the error's
name, a refusal is dispatch's status with its reason (a 422 names the field: "contacted_at: is in the future").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


def ticket_path(ticket_id: str, action_path: str = "") -> str:
    """dispatch's path of a ticket (or of an action on it); the id is one path segment whatever it holds."""
    base = f"/v1/tickets/{quote(ticket_id, safe='')}"
    return f"{base}/{action_path}" if action_path else base


async def call(
    settings: Any, token: str, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, str, dict[str, Any] | None]:
    """(status, reason, JSON answer) of one request to dispatch."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=settings.dispatch_url, timeout=settings.forward_timeout_seconds) as c:
            answer = await c.request(method, path, json=body, headers=headers)
    except httpx.HTTPError as error:
        return 502, f"dispatch unreachable: {type(error).__name__}", None
    if answer.is_success:
        try:
            found = answer.json()
        except ValueError:
            found = None
        return answer.status_code, "", found if isinstance(found, dict) else None
    return answer.status_code, reason(answer), None


def reason(answer: httpx.Response) -> str:
    """dispatch's reason for a refusal: `detail.reason` (403, 404, 409) or each field and message of a 422."""
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        return answer.text[:300] or answer.reason_phrase
    if isinstance(detail, dict):
        return str(detail.get("reason") or detail.get("error") or detail)
    if isinstance(detail, list) and detail:
        return "; ".join(_field_message(d) for d in detail) or str(detail)
    return str(detail)


def _field_message(d: Any) -> str:
    if not isinstance(d, dict):
        return str(d)
    loc = [str(p) for p in d.get("loc", []) if p != "body"]
    return f"{'.'.join(loc)}: {d.get('msg', '')}" if loc else str(d.get("msg", d))
