"""Strict templates on Jinja2: an undefined (or None) variable is an error, never a silent empty text.

The files under `notify/templates/` (`<id>.<locale>.j2`) are compiled once, at load, by a `jinja2.Environment` per
locale with `StrictUndefined` (an undefined name, attribute or condition raises), no autoescaping (SMS and plain
text, not HTML), `keep_trailing_newline` and the filters below; a syntax error or an unknown filter fails the load.
Stricter than Jinja2 in one way: printing None — a value present but unknown, such as a snapshot without a
restore deadline — is an error too, as is an empty result. Every failure is a `TemplateError` naming the template
(and, for `UndefinedVariable`, the variable), which the caller counts as a failed send.

A text's first line is its headline — ticket number, deadline and hotline first — and the subject of an email;
an SMS is the lines run together, with the signature last (see `sms_text`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_datetime
from jinja2 import StrictUndefined
from jinja2.utils import missing as _MISSING

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


class _Unset(jinja2.UndefinedError):
    """Raised by `_Strict`: carries the undefined value, so `render` can name the variable."""

    def __init__(self, undefined: _Strict) -> None:
        super().__init__(undefined._undefined_message)
        self.undefined = undefined


class _Strict(StrictUndefined):
    """StrictUndefined that says which value failed; `is_none` marks a value that was present but None."""

    __slots__ = ("is_none",)

    def __init__(self, *args: Any, is_none: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_none = is_none

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise _Unset(self)

    # None is falsy in a condition (templates test optional values with `if`); printing it is the error
    def __bool__(self) -> bool:
        if self.is_none:
            return False
        self._fail_with_undefined_error()


# Jinja2 binds the dunders (`__str__`, `__iter__`, …) to the base class's raiser: rebind them to ours
for _dunder in dir(StrictUndefined):
    if (
        _dunder not in _Strict.__dict__
        and getattr(StrictUndefined, _dunder) is jinja2.Undefined._fail_with_undefined_error
    ):
        setattr(_Strict, _dunder, _Strict._fail_with_undefined_error)


class _Environment(jinja2.Environment):
    """Attribute and item lookups that find None give a `_Strict` None, so printing `contact.phone` None fails."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self._none_is_strict(obj, attribute, super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self._none_is_strict(obj, argument, super().getitem(obj, argument))

    @staticmethod
    def _none_is_strict(obj: Any, name: Any, value: Any) -> Any:
        return _Strict(obj=obj, name=str(name), is_none=True) if value is None else value


# Babel patterns (CLDR month names, the zone conversion); a locale not listed gets Babel's medium format
_TIME_PATTERNS = {"zh": "M月d日HH:mm", "en": "d MMM HH:mm"}


def format_time(value: datetime, *, locale: str, tz: ZoneInfo) -> str:
    """A moment as people in the center read it: Asia/Shanghai, month, day, hour and minute."""
    babel_locale = locale.replace("-", "_")
    pattern = _TIME_PATTERNS.get(locale.split("-")[0], "medium")
    return format_datetime(value, pattern, tzinfo=tz, locale=babel_locale)


def _strict(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A filter given an undefined (or None) value fails as printing it would."""

    def apply(value: Any) -> Any:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return fn(value)

    return apply


def _filters(locale: str, tz: ZoneInfo) -> dict[str, Callable[[Any], Any]]:
    return {
        "time": _strict(lambda v: format_time(v, locale=locale, tz=tz)),
        "mask": _strict(sms_text.mask_phone),
        "percent": _strict(lambda v: f"{round(float(v) * 100)}%"),
        "sentence": _strict(lambda v: _sentence(str(v), locale)),
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


def _environment(locale: str, tz: ZoneInfo) -> jinja2.Environment:
    env = _Environment(
        undefined=_Strict,
        autoescape=False,  # SMS and plain text; nothing here is HTML
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters = _filters(locale, tz)  # only ours: a Jinja2 built-in (`default`) would let a missing value through
    return env


class TemplateSet:
    """Compiled templates keyed by (template id, locale); compiled once, so a syntax error fails at load."""

    def __init__(self, sources: Mapping[tuple[str, str], str], *, timezone: str = "Asia/Shanghai") -> None:
        self._tz = ZoneInfo(timezone)
        envs: dict[str, jinja2.Environment] = {}
        self._compiled: dict[tuple[str, str], jinja2.Template] = {}
        for (template, locale), source in sources.items():
            env = envs.setdefault(locale, _environment(locale, self._tz))
            name = f"{template}.{locale}"
            try:
                self._compiled[(template, locale)] = env.from_string(source)
            except jinja2.TemplateSyntaxError as err:
                message = str(err.message or err)
                if message.startswith("No filter named"):
                    message = f"unknown filter {message.removeprefix('No filter named ').rstrip('.')}"
                raise TemplateSyntaxError(f"template {name}, line {err.lineno}: {message}") from err

    def keys(self) -> set[tuple[str, str]]:
        return set(self._compiled)

    def missing(self, template_ids: set[str], locales: list[str]) -> list[str]:
        """`<id>.<locale>` of every template the rules name that has no file."""
        return sorted(f"{t}.{loc}" for t in template_ids for loc in locales if (t, loc) not in self._compiled)

    def render(self, template: str, locale: str, variables: Mapping[str, Any]) -> Rendered:
        """The text of `template` in `locale`; TemplateError when it is unknown or a variable is missing."""
        compiled = self._compiled.get((template, locale))
        if compiled is None:
            raise TemplateError(f"no template {template} for locale {locale}")
        name = f"{template}.{locale}"
        context = {k: _Strict(name=k, is_none=True) if v is None else v for k, v in variables.items()}
        try:
            raw = compiled.render(context)
        except _Unset as err:
            raise _undefined(name, err.undefined, variables) from None
        except jinja2.TemplateError as err:
            raise TemplateError(f"template {name}: {err}") from err
        except (TypeError, ValueError, AttributeError) as err:  # a filter given a value of the wrong kind
            raise TemplateError(f"template {name}: {err}") from err
        text = "\n".join(line.rstrip() for line in raw.strip().splitlines())
        if not text:
            raise TemplateError(f"template {name} rendered an empty text")
        return Rendered(template, locale, text)


def _undefined(template: str, undefined: _Strict, variables: Mapping[str, Any]) -> UndefinedVariable:
    """The error naming the dotted path: a top-level name, or `<variable>.<attribute>` one level down."""
    name = undefined._undefined_name or "?"
    owner = undefined._undefined_obj
    if owner is not _MISSING and not isinstance(owner, jinja2.Undefined):
        parent = next((k for k, v in variables.items() if v is owner), None)
        name = f"{parent}.{name}" if parent else name
    return UndefinedVariable(template, name, "is None" if undefined.is_none else "is undefined")


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
