"""The operator actions of dispatch as the ticket page offers them, pure: one form per action with the fields its
command needs, and the form turned into the JSON body dispatch's `POST /v1/tickets/{id}/<path>` takes.

This is the client's side of dispatch's HTTP API (`dispatch.api.PATHS`, the commands of `dispatch.domain.commands`);
reporting imports nothing of dispatch, so a test holds this table to dispatch's paths and command fields. Which
actions a ticket allows now is dispatch's answer (`allowed_actions` of `GET /v1/tickets/{id}`); who may take them is
dispatch's rule too (a refusal comes back with its status and reason).

Form conventions: a time is the center's local time (Asia/Shanghai, an `<input type="datetime-local">`); an empty
time is "now" by the service's clock. A yes/no is `true`/`false` (a checkbox left unticked: no). Teams are
separated by commas or spaces. `expected_version` is the ticket version the page showed (dispatch answers 409 if
the ticket changed since).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from huying.events import CauseCategory, ExclusionKind
from reporting.domain.facts import SHANGHAI


@dataclass(frozen=True)
class Field:
    """One form field: its JSON name (dotted for a nested object: `consent.by`), its kind and choices."""

    name: str
    kind: str = "text"  # text · textarea · time · yesno · check · choice · teams · team (the work item to act on)
    required: bool = True
    choices: tuple[str, ...] = ()
    now_if_empty: bool = True  # a time left empty is "now" (not for an interval's ends: they must be stated)
    label: str = ""  # the word's key (field.<label>) when the name means something else elsewhere

    @property
    def word(self) -> str:
        return f"field.{self.label or self.name}"


@dataclass(frozen=True)
class Action:
    name: str  # dispatch's command action (`allowed_actions` names these)
    path: str  # the route under /v1/tickets/{id}/
    fields: tuple[Field, ...] = ()


class FormError(ValueError):
    """A field the form cannot turn into JSON (answered 422 naming the field, without asking dispatch)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


TEAM = Field("team", "team", required=False)  # needed only when several of the operator's teams have a work item
CAUSES = tuple(c.value for c in CauseCategory)

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("dispatch", "dispatch", (Field("teams", "teams"),)),
        Action("accept", "accept", (TEAM,)),
        Action("contact", "contact", (
            Field("reached", "yesno"), Field("not_reached_reason", "textarea", required=False),
            Field("method", "choice", choices=("phone", "sms", "on_site", "email")),
            Field("contacted_at", "time"), TEAM,
        )),
        Action("progress", "progress", (Field("note", "textarea"), Field("customer_informed", "check"), TEAM)),
        Action("transfer", "transfer", (Field("to_team"), Field("reason"), TEAM)),
        Action("suspend", "suspend", (
            Field("reason"), Field("consent.by"),
            Field("consent.method", "choice", choices=("phone", "sms", "on_site")), Field("consent.at", "time"),
        )),
        Action("approve_suspension", "suspension/approve"),
        Action("resume", "resume"),
        Action("exclusion", "exclusions", (
            Field("kind", "choice", choices=tuple(k.value for k in ExclusionKind)),
            Field("start", "time", now_if_empty=False), Field("end", "time", now_if_empty=False), Field("reason"),
        )),
        Action("resolve", "resolve", (
            Field("cause_category", "choice", choices=CAUSES), Field("cause", "textarea"),
            Field("resolution", "textarea", required=False), Field("restored_at", "time"), TEAM,
        )),
        Action("confirm", "confirm", (Field("method", "choice", choices=("customer", "noc_alarm_cleared")),)),
        Action("close", "close"),
        Action("reopen", "reopen", (Field("reason"),)),
        Action("cancel", "cancel", (Field("reason"),)),
        Action("request_fault_report", "fault-report/request", (Field("requested_by"),)),
        Action("submit_fault_report", "fault-report", (Field("document_ref"),)),
        Action("satisfaction", "satisfaction", (
            Field("satisfied", "yesno"), Field("reached", label="reached_person"), Field("called_by"),
            Field("method", "choice", choices=("phone", "visit", "sms", "email")), Field("called_at", "time"),
            Field("comment", "textarea", required=False),
        )),
        Action("inform_leader", "leaders", (
            Field("audience", "choice", choices=("director", "deputy_gm", "leadership")),
            Field("leader", required=False), Field("informed_at", "time"),
        )),
        Action("quality_check", "quality-check", (
            Field("result", "choice", choices=("passed", "failed")), Field("remarks", "textarea", required=False),
        )),
    )
}  # fmt: skip
# The order the page lists them in: the usual path of a ticket first, then the rest.
ORDER = ("accept", "contact", "progress", "resolve", "confirm", "close", "transfer", "suspend", "approve_suspension",
         "resume", "exclusion", "dispatch", "reopen", "request_fault_report", "submit_fault_report", "satisfaction",
         "inform_leader", "quality_check", "cancel")  # fmt: skip


def offered(allowed: list[str]) -> list[Action]:
    """The forms to show for dispatch's `allowed_actions`, in the page's order (names this table lacks are left
    out: a newer dispatch's action is taken through its API until the page learns it)."""
    return [ACTIONS[name] for name in ORDER if name in allowed]


def my_teams(ticket: dict[str, Any], teams: list[str]) -> list[str]:
    """The operator's teams with an open work item on the ticket (the `team` choice, when there are several)."""
    open_items = [i.get("team") for i in ticket.get("work_items", []) if i.get("status") in ("dispatched", "accepted")]
    return [t for t in dict.fromkeys(open_items) if t in teams]


def _time(f: Field, value: str, now: datetime) -> str:
    if not value:
        if not f.now_if_empty:
            raise FormError(f.name, "is required")
        return now.isoformat()
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise FormError(f.name, "is not a time (YYYY-MM-DDTHH:MM)") from None
    return (when if when.tzinfo else when.replace(tzinfo=SHANGHAI)).isoformat()


def _value(f: Field, raw: str, now: datetime) -> Any:
    if f.kind == "time":
        return _time(f, raw, now)
    if f.kind in ("yesno", "check"):
        if raw.lower() in ("true", "on", "yes", "1"):
            return True
        if raw.lower() in ("false", "no", "0", "") and (raw or f.kind == "check"):
            return False
        raise FormError(f.name, "choose yes or no")
    if f.kind == "teams":
        return [t for t in raw.replace(",", " ").split() if t]
    return raw


def body_from_form(action: Action, form: Mapping[str, str], *, now: datetime) -> dict[str, Any]:
    """The JSON body of `action` from its form; an empty optional field is left out (dispatch's default applies)."""
    body: dict[str, Any] = {}
    for f in action.fields:
        raw = str(form.get(f.name, "")).strip()
        if not raw and not f.required and f.kind != "check":
            continue
        head, _, tail = f.name.partition(".")
        target = body.setdefault(head, {}) if tail else body
        target[tail or head] = _value(f, raw, now)
    version = str(form.get("expected_version", "")).strip()
    if version:
        if not version.isdigit():
            raise FormError("expected_version", "is not a version number")
        body["expected_version"] = int(version)
    return body
