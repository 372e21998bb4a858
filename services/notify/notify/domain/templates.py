"""Strict templates: an undefined (or None) variable is an error, never a silent empty text.

The syntax is a subset of Jinja2 — `{{ name.attr | filter }}`, `{% if [not] name %}…{% elif … %}…{% else %}…
{% endif %}`, `{# comment #}` — so the files under `notify/templates/` (`<id>.<locale>.j2`) also render unchanged
with `jinja2.Environment(undefined=StrictUndefined)` and the same filters once Jinja2 is a dependency of notify (it
is not yet; this module is the one to swap). Stricter than Jinja2 in one way: printing None is an error too.

A text's first line is its headline — ticket number, deadline and hotline first — and the subject of an email;
an SMS is the lines run together, with the signature last (see `sms_text`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from huying.events import Event
from notify.domain import sms_text
from notify.domain.recipients import NotifyContext
from notify.domain.rules import Intent, RuleBook


class TemplateError(Exception):
    """A template that cannot render: the caller counts it as a failed send."""


class UndefinedVariable(TemplateError):
    def __init__(self, template: str, name: str, reason: str = "is undefined") -> None:
        super().__init__(f"template {template}: variable {name!r} {reason}")
        self.template, self.name = template, name


class TemplateSyntaxError(TemplateError):
    pass


_TOKEN = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.S)
_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_VAR = re.compile(rf"^\s*({_PATH})\s*((?:\|\s*[a-z_]+\s*)*)$")
_IF = re.compile(rf"^\s*(if|elif)\s+(not\s+)?({_PATH})\s*$")


@dataclass(frozen=True)
class _Var:
    path: str
    filters: tuple[str, ...]


@dataclass(frozen=True)
class _If:
    branches: tuple[tuple[str, bool, tuple[Any, ...]], ...]  # (path, negated, body); path "" is else


Node = str | _Var | _If


def _parse(name: str, source: str) -> tuple[Node, ...]:
    stack: list[tuple[list[Node], list[tuple[str, bool, list[Node]]] | None]] = [([], None)]
    for token in _TOKEN.split(source):
        if not token or token.startswith("{#"):
            continue
        body, branches = stack[-1]
        if token.startswith("{{"):
            m = _VAR.match(token[2:-2])
            if not m:
                raise TemplateSyntaxError(f"template {name}: cannot read {token!r}")
            filters = tuple(f.strip() for f in m.group(2).split("|") if f.strip())
            body.append(_Var(m.group(1), filters))
        elif token.startswith("{%"):
            inner = token[2:-2].strip()
            m = _IF.match(inner)
            if m and m.group(1) == "if":
                new: list[Node] = []
                stack.append((new, [(m.group(3), bool(m.group(2)), new)]))
            elif branches is None:
                raise TemplateSyntaxError(f"template {name}: {token!r} outside an if")
            elif m:
                new = []
                branches.append((m.group(3), bool(m.group(2)), new))
                stack[-1] = (new, branches)
            elif inner == "else":
                new = []
                branches.append(("", False, new))
                stack[-1] = (new, branches)
            elif inner == "endif":
                stack.pop()
                stack[-1][0].append(_If(tuple((p, n, tuple(b)) for p, n, b in branches)))
            else:
                raise TemplateSyntaxError(f"template {name}: unknown tag {token!r}")
        else:
            body.append(token)
    if len(stack) != 1:
        raise TemplateSyntaxError(f"template {name}: an if is not closed")
    return tuple(stack[0][0])


_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def format_time(value: datetime, *, locale: str, tz: ZoneInfo) -> str:
    """A moment as people in the center read it: Asia/Shanghai, month, day, hour and minute."""
    local = value.astimezone(tz)
    if locale.startswith("zh"):
        return f"{local.month}月{local.day}日{local:%H:%M}"
    return f"{local.day} {_MONTHS_EN[local.month - 1]} {local:%H:%M}"


def _filters(locale: str, tz: ZoneInfo) -> dict[str, Callable[[Any], Any]]:
    return {
        "time": lambda v: format_time(v, locale=locale, tz=tz),
        "mask": sms_text.mask_phone,
        "percent": lambda v: f"{round(float(v) * 100)}%",
        "sentence": lambda v: _sentence(str(v), locale),
    }


def _sentence(text: str, locale: str) -> str:
    """Free text (a note, a cause) closed as a sentence, unless it already ends with a stop."""
    text = text.strip()
    if not text or text[-1] in "。！？.!?；;":
        return text
    return text + ("。" if locale.startswith("zh") else ".")


@dataclass(frozen=True)
class Rendered:
    template: str
    locale: str
    text: str

    @property
    def subject(self) -> str:
        return self.text.split("\n", 1)[0]

    def sms(self, *, signature: str, max_segments: int) -> str:
        """The SMS: lines run together (with a space in English), the signature last, within the budget."""
        joiner = "" if self.locale.startswith("zh") else " "
        body = joiner.join(line.strip() for line in self.text.splitlines() if line.strip())
        return sms_text.fit(body, signature=signature, max_segments=max_segments)


class TemplateSet:
    """Compiled templates keyed by (template id, locale); compiled once, so a syntax error fails at load."""

    def __init__(self, sources: Mapping[tuple[str, str], str], *, timezone: str = "Asia/Shanghai") -> None:
        self._compiled = {key: _parse(f"{key[0]}.{key[1]}", src) for key, src in sources.items()}
        self._tz = ZoneInfo(timezone)

    def keys(self) -> set[tuple[str, str]]:
        return set(self._compiled)

    def missing(self, template_ids: set[str], locales: list[str]) -> list[str]:
        """`<id>.<locale>` of every template the rules name that has no file."""
        return sorted(f"{t}.{loc}" for t in template_ids for loc in locales if (t, loc) not in self._compiled)

    def render(self, template: str, locale: str, variables: Mapping[str, Any]) -> Rendered:
        """The text of `template` in `locale`; TemplateError when it is unknown or a variable is missing."""
        nodes = self._compiled.get((template, locale))
        if nodes is None:
            raise TemplateError(f"no template {template} for locale {locale}")
        name = f"{template}.{locale}"
        out: list[str] = []
        _render(nodes, variables, out, name=name, filters=_filters(locale, self._tz))
        text = "\n".join(line.rstrip() for line in "".join(out).strip().splitlines())
        if not text:
            raise TemplateError(f"template {name} rendered an empty text")
        return Rendered(template, locale, text)


def _lookup(variables: Mapping[str, Any], path: str, *, name: str) -> Any:
    value: Any = variables
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif not isinstance(value, Mapping) and hasattr(value, part):
            value = getattr(value, part)
        else:
            raise UndefinedVariable(name, path)
    return value


def _render(nodes: tuple[Node, ...], variables: Mapping[str, Any], out: list[str], **kw: Any) -> None:
    name, filters = kw["name"], kw["filters"]
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Var):
            value = _lookup(variables, node.path, name=name)
            if value is None:
                raise UndefinedVariable(name, node.path, "is None")
            for f in node.filters:
                if f not in filters:
                    raise TemplateError(f"template {name}: unknown filter {f!r}")
                value = filters[f](value)
            out.append(str(value))
        else:
            for path, negated, body in node.branches:
                if not path or bool(_lookup(variables, path, name=name)) is not negated:
                    _render(body, variables, out, **kw)
                    break


RELAYING = frozenset({"account_manager", "customer_service"})
_EVENT_FIELDS = (
    "deadline",
    "old_deadline",
    "new_deadline",
    "due_at",
    "sequence",
    "level",
    "used_ratio",
    "cause",
    "resolution",
    "restored_at",
    "team",
    "reason",
)


def variables_for(intent: Intent, event: Event, ctx: NotifyContext, *, book: RuleBook) -> dict[str, Any]:
    """What a template may use for `intent` (from `rules.plan`) of `event`: event fields, the ticket snapshot, the
    customer's name, the hotline and the rules file's labels. Optional values are present as None, so templates
    test them with `if`."""
    ticket, customer = ctx.ticket, ctx.customer
    clock = getattr(event, "clock", None)
    labels = book.labels
    lang = intent.locale if intent.locale in labels.clock else book.defaults.locale
    reason = getattr(event, "reason", None)
    team_id = getattr(event, "team", None) or getattr(event, "subject", None)
    team = ctx.staff.team(team_id) if team_id else None
    opened_at = ticket.opened_at if ticket else None
    variables: dict[str, Any] = {f: getattr(event, f, None) for f in _EVENT_FIELDS}
    variables.update(
        ticket_no=intent.ticket_id,
        hotline=book.defaults.hotline,
        relay=str(intent.audience) in RELAYING,
        recipient_name=intent.recipient.name,
        customer=customer.name if customer else None,
        city=getattr(event, "city", None) or (ticket.city if ticket else None),
        tier=getattr(event, "tier", None) or (ticket.tier if ticket else None),
        clock_name=labels.clock[lang][clock] if clock else None,
        tier_name=None,
        reason_text=labels.move_reason[lang].get(str(reason), "") if reason else "",
        restore_deadline=ticket.restore_deadline if ticket else None,
        progress=ticket.last_progress if ticket else None,
        description=ticket.description if ticket and ticket.description else None,
        contact=ticket.contact if ticket else None,
        team_name=team.name if team else team_id,
        elapsed_minutes=round((event.occurred_at - opened_at).total_seconds() / 60) if opened_at else None,
    )
    if variables["tier"] is not None:
        variables["tier_name"] = labels.tier[lang][variables["tier"]]
    if variables["deadline"] is None:
        variables["deadline"] = variables["new_deadline"] or variables["due_at"] or variables["restore_deadline"]
    return variables
