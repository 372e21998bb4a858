"""Notification rules as data, and `plan`: which notices one event owes to whom, on which channel, when.

A rule says: on this event type (of `huying.tickets.v1` or `huying.sla.v1`), where these conditions hold, tell this
audience on these channels with this template, after this delay. Each rule carries the source phrase it comes from
(DOMAIN.md, the seeds). `plan` is pure: it reads the event, the rules and a `NotifyContext` and returns `Intent`s;
one intent per dedup key, which is event id × audience × recipient × channel (the unique index the store keeps).
A recipient notify cannot resolve, or one without an address for a channel, still yields an intent on the outbox
with the gap named, so a notice is never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from huying.events import (
    OPERATOR_CAUSES,
    CauseCategory,
    ClockKind,
    Event,
    SlaMessage,
    TicketMessage,
    TicketResolved,
    Tier,
)
from notify.domain.recipients import Audience, NotifyContext, Person, resolve


class NotifyChannel(StrEnum):
    """Delivery channels, as `huying.notifications.v1` names them."""

    SMS = "sms"
    EMAIL = "email"
    WEBHOOK = "webhook"
    OUTBOX = "outbox"


ADDRESS_OF = {NotifyChannel.SMS: "phone", NotifyChannel.EMAIL: "email", NotifyChannel.WEBHOOK: "webhook"}


def _event_classes() -> dict[str, type[Event]]:
    union = get_args(get_args(TicketMessage)[0]) + get_args(get_args(SlaMessage)[0])
    return {cls.model_fields["type"].default: cls for cls in union}


EVENT_TYPES = _event_classes()
MoveReason = Literal["paused", "resumed", "exclusion", "reopened", "tier_changed", "recomputed"]  # SlaDeadlineMoved


class Wording(StrEnum):
    """How the cause is worded to the customer (DOMAIN.md "How the cause is worded", seed 001 2)-(9))."""

    CUSTOMER_SIDE = "customer_side"  # a: explain, with maintenance tips
    TRUE_CAUSE = "true_cause"  # b: the operator's equipment within the promised time — the true cause, objectively
    TRUE_CAUSE_LATE = "true_cause_late"  # b past the promised time: the true cause and an apology (our choice)
    TACTFUL = "tactful"  # c: upgrade, cutover, maintenance or human error — tactful, promise a dedicated notice
    NO_FAULT = "no_fault"  # not a fault: nothing found in the operator's network


def wording_for(event: TicketResolved, ctx: NotifyContext) -> Wording:
    """The wording of a resolution's cause; a missing category is the operator's (as the contract reads it)."""
    category = event.cause_category or CauseCategory.OPERATOR_EQUIPMENT
    if category is CauseCategory.CUSTOMER_SIDE:
        return Wording.CUSTOMER_SIDE
    if category is CauseCategory.OPERATOR_WORK:
        return Wording.TACTFUL
    if category is CauseCategory.NOT_A_FAULT:
        return Wording.NO_FAULT
    deadline = ctx.ticket.restore_deadline if ctx.ticket else None
    if category in OPERATOR_CAUSES and deadline is not None and event.restored_at > deadline:
        return Wording.TRUE_CAUSE_LATE
    return Wording.TRUE_CAUSE  # interconnection and third parties: said objectively, as the operator's own are


# the event field each condition reads: a rule's condition must name a field its event has
_CONDITION_FIELDS = {"clock": "clock", "seq": "seq", "level": "level", "later": "new_deadline", "on_roster": "staff_id"}


class Where(BaseModel):
    """Conditions on the event (and on what notify knows of its ticket and customer); all given ones must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clock: list[ClockKind] | None = Field(None, description="The SLA event's clock is one of these.")
    seq: list[int] | None = Field(None, description="The clock instance is one of these (1: the first start).")
    level: list[int] | None = Field(None, description="EscalationRaised.level is one of these.")
    tier: list[Tier] | None = Field(None, description="The ticket's tier (event or snapshot) is one of these.")
    later: bool | None = Field(None, description="SlaDeadlineMoved: the new deadline is later than the old one.")
    on_roster: bool | None = Field(None, description="DutyNotificationRequested names a person on duty.")
    direct_sms: bool | None = Field(None, description="The customer's contract allows direct SMS to its contact.")

    def holds(self, event: Event, ctx: NotifyContext) -> bool:
        tier = getattr(event, "tier", None) or (ctx.ticket.tier if ctx.ticket else None)
        checks = [
            self.clock is None or getattr(event, "clock", None) in self.clock,
            self.seq is None or getattr(event, "seq", None) in self.seq,
            self.level is None or getattr(event, "level", None) in self.level,
            self.tier is None or tier in self.tier,
            self.later is None or _moved_later(event) is self.later,
            self.on_roster is None or (getattr(event, "staff_id", None) is not None) is self.on_roster,
            self.direct_sms is None or bool(ctx.customer and ctx.customer.direct_sms) is self.direct_sms,
        ]
        return all(checks)


def _moved_later(event: Event) -> bool:
    old, new = getattr(event, "old_deadline", None), getattr(event, "new_deadline", None)
    return old is not None and new is not None and new > old


class Delay(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    minutes: float = Field(0, ge=0)


class Rule(BaseModel):
    """One line of the rules table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    source: str = Field(min_length=1, description="The DOMAIN.md / seed phrase the rule comes from.")
    event: str = Field(description="Event type name on huying.tickets.v1 or huying.sla.v1.")
    where: Where = Field(default_factory=Where)
    audience: Audience
    channels: list[NotifyChannel] = Field(min_length=1)
    template: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    worded_by_cause: bool = Field(False, description="TicketResolved: template <template>.<wording> (Wording).")
    delay: Delay = Field(default_factory=Delay)
    urgent: bool = Field(False, description="Quiet hours never defer it (escalations, breaches, duty calls).")

    @field_validator("event")
    @classmethod
    def _known_event(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"unknown event type {value!r} (known: {', '.join(sorted(EVENT_TYPES))})")
        return value

    @model_validator(mode="after")
    def _conditions_fit_the_event(self) -> Rule:
        fields = EVENT_TYPES[self.event].model_fields
        for cond, attr in _CONDITION_FIELDS.items():
            if getattr(self.where, cond) is not None and attr not in fields:
                raise ValueError(f"rule {self.id}: condition {cond!r} does not apply to {self.event}")
        if self.worded_by_cause and self.event != "TicketResolved":
            raise ValueError(f"rule {self.id}: worded_by_cause is for TicketResolved only")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"rule {self.id}: a channel is listed twice")
        return self

    def template_ids(self) -> list[str]:
        """Every template this rule may use."""
        if self.worded_by_cause:
            return [f"{self.template}.{w}" for w in Wording]
        return [self.template]


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: str = "zh-CN"
    locales: list[str] = Field(default_factory=lambda: ["zh-CN", "en"], min_length=1)
    timezone: str = "Asia/Shanghai"
    hotline: str = "10086"
    signature: str = "【中国移动】"
    sms_max_segments: int = Field(3, ge=1)


class Labels(BaseModel):
    """The words templates use for codes, per locale: every locale names every clock, tier and move reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clock: dict[str, dict[ClockKind, str]]
    tier: dict[str, dict[Tier, str]]
    move_reason: dict[str, dict[MoveReason, str]]

    def missing(self, locales: list[str]) -> list[str]:
        wanted = {"clock": set(ClockKind), "tier": set(Tier), "move_reason": set(get_args(MoveReason))}
        return [
            f"{kind}.{locale}.{code}"
            for kind, codes in wanted.items()
            for locale in locales
            for code in sorted(codes - set(getattr(self, kind).get(locale, {})))
        ]


class RuleBook(BaseModel):
    """The whole rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    defaults: Defaults = Field(default_factory=Defaults)
    labels: Labels
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleBook:
        ids = [r.id for r in self.rules]
        if dupes := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"duplicate rule ids: {dupes}")
        if self.defaults.locale not in self.defaults.locales:
            raise ValueError("the default locale must be one of the locales")
        if missing := self.labels.missing(self.defaults.locales):
            raise ValueError(f"labels missing: {', '.join(missing)}")
        return self

    def template_ids(self) -> set[str]:
        return {t for r in self.rules for t in r.template_ids()}


@dataclass(frozen=True)
class Intent:
    """One notification to make: recorded under `dedup_key` before the event's offset is committed."""

    dedup_key: str
    rule_id: str
    event_id: str
    ticket_id: str | None
    audience: Audience
    recipient: Person
    channel: NotifyChannel
    template: str
    locale: str
    not_before: datetime
    urgent: bool = False
    gap: str | None = None  # why this went to the outbox instead of the rule's channel


def dedup_key(event_id: Any, audience: Audience | str, recipient_ref: str, channel: NotifyChannel | str) -> str:
    """`<event id>|<audience>|<recipient ref>|<channel>`; only the ref may hold '|' and it sits between fixed parts."""
    parts = [str(event_id), str(audience), recipient_ref, str(channel)]
    if not all(parts):
        raise ValueError(f"every part of a dedup key must be non-empty: {parts}")
    if "|" in parts[0]:
        raise ValueError("an event id never contains '|'")
    return "|".join(parts)


def _intents_for(rule: Rule, event: Event, ctx: NotifyContext, defaults: Defaults) -> list[Intent]:
    template = rule.template
    if rule.worded_by_cause and isinstance(event, TicketResolved):
        template = f"{rule.template}.{wording_for(event, ctx)}"
    not_before = event.occurred_at + timedelta(minutes=rule.delay.minutes)
    people = resolve(rule.audience, event, ctx)
    targets: list[tuple[Person, NotifyChannel, str | None]] = []
    if not people:
        nobody = Person(ref=f"unresolved:{rule.audience}")
        targets.append((nobody, NotifyChannel.OUTBOX, f"nobody known for {rule.audience}"))
    for person in people:
        for channel in rule.channels:
            field = ADDRESS_OF.get(channel)
            if field is None or getattr(person, field):
                targets.append((person, channel, None))
            else:
                targets.append((person, NotifyChannel.OUTBOX, f"no {field} for {channel}"))
    return [
        Intent(
            dedup_key=dedup_key(event.event_id, rule.audience, person.ref, channel),
            rule_id=rule.id,
            event_id=str(event.event_id),
            ticket_id=getattr(event, "ticket_id", None),
            audience=rule.audience,
            recipient=person,
            channel=channel,
            template=template,
            locale=person.locale if person.locale in defaults.locales else defaults.locale,
            not_before=not_before,
            urgent=rule.urgent,
            gap=gap,
        )
        for person, channel, gap in targets
    ]


def plan(event: Event, context: NotifyContext, *, rules: RuleBook) -> list[Intent]:
    """The notices `event` owes, one per dedup key (the first rule that claims a key keeps it)."""
    out: dict[str, Intent] = {}
    for rule in rules.rules:
        if rule.event != event.type or not rule.where.holds(event, context):
            continue
        for intent in _intents_for(rule, event, context, rules.defaults):
            out.setdefault(intent.dedup_key, intent)
    return list(out.values())
