"""Storm and rate rules: the last word on an intent just before it is sent (issue 13 item 5).

The worker calls, for each due intent (from `rules.plan`)::

    gate(intent, *, now, ticket, history, suppressed, policy) -> Decision

    intent:     rules.Intent
    now:        aware datetime, the worker's clock
    ticket:     TicketState | None — the ticket as notify last saw it on huying.tickets.v1 (fold events with
                `TicketState.apply`); None when notify has not seen the ticket
    history:    RecipientHistory — what was already sent (per recipient and channel) and told (per incident key)
    suppressed: Callable[[str], bool] | frozenset[str] — bounced or invalid addresses (phone, email, webhook) or refs
    policy:     StormPolicy (`load_storm_policy()`)

and acts on `Decision(action, until, reason, rule)`:

- `send`: send now; then record the send in the history (counted for the caps) and, when `incident_key(intent,
  ticket, policy=…)` is not None, record that key as told (at `now`, by `intent.ticket_id`);
- `defer`: call `gate` again at `until` (the intent's own time, the end of the hold-down or of quiet hours);
- `suppress`: do not send; record the reason (final: never re-gated);
- `digest`: keep the intent as a digest entry of its recipient and channel; at `until` send one message built
  with `digest(entries, locale=…)` (not gated again, counted as one send).

Checks, in order: not yet due → defer; suppressed address → suppress; re-check (a ticket already restored, closed or
cancelled) → suppress; hold-down (reopened since → suppress, else defer until the hold-down ends); one message per
customer per incident → suppress; quiet hours (non-urgent, customer audiences) → defer; caps (non-urgent, staff) →
digest; else send. Pure: time is `now`, the state and history are arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from huying.events import (
    Event,
    IncidentOpened,
    TicketCancelled,
    TicketClosed,
    TicketOpened,
    TicketReopened,
    TicketResolved,
)
from notify.domain.recipients import Audience
from notify.domain.rules import ADDRESS_OF, Intent, NotifyChannel, RuleBook
from notify.domain.templates import Rendered

DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "policy" / "storm.yaml"

# ── policy ──────────────────────────────────────────────────────────────────────────────────────────────────────


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IncidentRule(_Part):
    audiences: frozenset[Audience]
    window_minutes: float = Field(gt=0)


class HoldDown(_Part):
    minutes: float = Field(ge=0)
    rules: frozenset[str]


class Recheck(_Part):
    rules: frozenset[str]


class QuietHours(_Part):
    start: time
    end: time
    audiences: frozenset[Audience]

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours: start and end must differ")
        return self


class Caps(_Part):
    per_day: dict[NotifyChannel, int] = Field(description="Messages per recipient per local day, by channel.")
    exempt_audiences: frozenset[Audience] = frozenset()
    digest_every_minutes: int = Field(gt=0, le=24 * 60)

    @field_validator("per_day")
    @classmethod
    def _positive(cls, value: dict[NotifyChannel, int]) -> dict[NotifyChannel, int]:
        if any(n < 1 for n in value.values()):
            raise ValueError("a cap is at least 1")
        return value


class StormPolicy(_Part):
    """The storm file (`policy/storm.yaml`), every number with its source there."""

    version: str = Field(min_length=1)
    timezone: str = "Asia/Shanghai"
    incident: IncidentRule
    hold_down: HoldDown
    recheck: Recheck
    quiet_hours: QuietHours
    caps: Caps

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def unknown_rules(self, book: RuleBook) -> list[str]:
        """Rule ids named here that the rules file does not have."""
        known = {r.id for r in book.rules}
        return sorted((self.hold_down.rules | self.recheck.rules) - known)


def load_storm_policy(path: Path | str = DEFAULT_POLICY) -> StormPolicy:
    """Read and validate the storm file; called once at start (the module's only I/O)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return StormPolicy.model_validate(data)


# ── ticket state ────────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class TicketState:
    """What the gate re-checks at send time. `TicketSnapshot` (recipients.py) has neither the parent incident nor
    the lifecycle, so the worker keeps this alongside it, folded from huying.tickets.v1 with `apply`. Times are the
    events' `occurred_at`, the clock intents' `not_before` is taken from."""

    ticket_id: str
    parent_incident_id: str | None = None
    is_incident: bool = False
    restored_at: datetime | None = None  # the last TicketResolved
    reopened_at: datetime | None = None  # the last TicketReopened
    closed: bool = False
    cancelled: bool = False

    @property
    def incident_id(self) -> str | None:
        """The incident this ticket belongs to: its parent's, or its own if it is the incident."""
        return self.parent_incident_id or (self.ticket_id if self.is_incident else None)

    @property
    def restored(self) -> bool:
        """Restored and not reopened since."""
        return self.restored_at is not None and (self.reopened_at is None or self.reopened_at < self.restored_at)

    @property
    def settled(self) -> bool:
        return self.restored or self.closed or self.cancelled

    def apply(self, event: Event) -> TicketState:
        """The state after `event` (events of other types leave it unchanged)."""
        at = event.occurred_at
        if isinstance(event, TicketOpened):
            return replace(self, parent_incident_id=event.parent_incident_id or self.parent_incident_id)
        if isinstance(event, IncidentOpened):
            return replace(self, is_incident=True)
        if isinstance(event, TicketResolved):
            return replace(self, restored_at=max(at, self.restored_at or at))
        if isinstance(event, TicketReopened):
            return replace(self, reopened_at=max(at, self.reopened_at or at), closed=False)
        if isinstance(event, TicketClosed):
            return replace(self, closed=True)
        if isinstance(event, TicketCancelled):
            return replace(self, cancelled=True)
        return self


# ── history ─────────────────────────────────────────────────────────────────────────────────────────────────────


class RecipientHistory(Protocol):
    """What the store knows of earlier sends; the worker implements it over its collection."""

    def sent_count(self, recipient_ref: str, channel: str, *, since: datetime) -> int:
        """Messages sent to this recipient on this channel since `since`: urgent ones and digests included."""
        ...

    def last_told(self, key: str) -> tuple[datetime, str | None] | None:
        """When, and by which ticket, a notice under this incident key (`incident_key`) was last sent."""
        ...


@dataclass
class InMemoryHistory:
    """The history in memory: for tests and the embedded run."""

    sends: list[tuple[str, str, datetime]] = field(default_factory=list)
    told: dict[str, tuple[datetime, str | None]] = field(default_factory=dict)

    def sent_count(self, recipient_ref: str, channel: str, *, since: datetime) -> int:
        return sum(1 for r, c, at in self.sends if r == recipient_ref and c == channel and at >= since)

    def last_told(self, key: str) -> tuple[datetime, str | None] | None:
        return self.told.get(key)

    def record(self, intent: Intent, *, at: datetime, ticket: TicketState | None, policy: StormPolicy) -> None:
        """What the worker records after a `send`."""
        self.sends.append((intent.recipient.ref, str(intent.channel), at))
        if key := incident_key(intent, ticket, policy=policy):
            self.told[key] = (at, intent.ticket_id)


def incident_key(intent: Intent, ticket: TicketState | None, *, policy: StormPolicy) -> str | None:
    """`<incident>|<rule>|<recipient ref>|<channel>` for a customer-audience notice of a ticket in an incident."""
    if ticket is None or ticket.incident_id is None or intent.audience not in policy.incident.audiences:
        return None
    return "|".join([ticket.incident_id, intent.rule_id, intent.recipient.ref, str(intent.channel)])


# ── time helpers ────────────────────────────────────────────────────────────────────────────────────────────────


def in_quiet_hours(now: datetime, policy: StormPolicy) -> bool:
    q, local = policy.quiet_hours, now.astimezone(policy.tz).time()
    if q.start < q.end:
        return q.start <= local < q.end
    return local >= q.start or local < q.end  # the period spans midnight


def quiet_until(now: datetime, policy: StormPolicy) -> datetime | None:
    """The end of the quiet period `now` is in (local time), None outside quiet hours."""
    if not in_quiet_hours(now, policy):
        return None
    local = now.astimezone(policy.tz)
    end = datetime.combine(local.date(), policy.quiet_hours.end, tzinfo=policy.tz)
    return end if end > local else end + timedelta(days=1)


def day_start(now: datetime, policy: StormPolicy) -> datetime:
    """Local midnight of `now`'s day: the caps count per local day, as the platforms do."""
    local = now.astimezone(policy.tz)
    return datetime.combine(local.date(), time(0), tzinfo=policy.tz)


def next_digest_at(now: datetime, policy: StormPolicy) -> datetime:
    """The next digest time strictly after `now`: every `digest_every_minutes` from local midnight."""
    start, step = day_start(now, policy), timedelta(minutes=policy.caps.digest_every_minutes)
    slots = (now - start) // step + 1
    return min(start + slots * step, start + timedelta(days=1))


# ── the gate ────────────────────────────────────────────────────────────────────────────────────────────────────

Action = Literal["send", "defer", "suppress", "digest"]


@dataclass(frozen=True)
class Decision:
    action: Action
    until: datetime | None = None  # defer: gate again then; digest: the digest's send time
    reason: str = ""
    rule: str = ""  # which storm rule decided: not_due, suppression, recheck, hold_down, incident, quiet_hours, cap


SEND = Decision("send", reason="no storm rule applies")


def _is_suppressed(intent: Intent, suppressed: Callable[[str], bool] | frozenset[str]) -> str | None:
    check = suppressed.__contains__ if isinstance(suppressed, frozenset | set) else suppressed
    field_name = ADDRESS_OF.get(intent.channel)
    address = getattr(intent.recipient, field_name) if field_name else None
    for value in (address, intent.recipient.ref):
        if value and check(value):
            return "the address" if value == address else "the recipient"
    return None


def gate(
    intent: Intent,
    *,
    now: datetime,
    ticket: TicketState | None,
    history: RecipientHistory,
    suppressed: Callable[[str], bool] | frozenset[str],
    policy: StormPolicy,
) -> Decision:
    """Whether `intent` goes now, later, into a digest or not at all (see the module docstring)."""
    if now < intent.not_before:
        return Decision("defer", intent.not_before, "not yet due", "not_due")
    recorded_only = intent.channel is NotifyChannel.OUTBOX
    if not recorded_only and (what := _is_suppressed(intent, suppressed)):
        return Decision("suppress", None, f"{what} is on the suppression list (bounced or invalid)", "suppression")
    if decision := _ticket_rules(intent, now=now, ticket=ticket, history=history, policy=policy):
        return decision
    if recorded_only or intent.urgent:
        return SEND
    if intent.audience in policy.quiet_hours.audiences and (end := quiet_until(now, policy)):
        return Decision("defer", end, "quiet hours: a non-urgent customer notice waits for the morning", "quiet_hours")
    cap = policy.caps.per_day.get(intent.channel)
    if cap is not None and intent.audience not in policy.caps.exempt_audiences:
        sent = history.sent_count(intent.recipient.ref, str(intent.channel), since=day_start(now, policy))
        if sent >= cap:
            reason = f"cap: {sent} of {cap} {intent.channel} today; goes in the next digest"
            return Decision("digest", next_digest_at(now, policy), reason, "cap")
    return SEND


def _ticket_rules(
    intent: Intent, *, now: datetime, ticket: TicketState | None, history: RecipientHistory, policy: StormPolicy
) -> Decision | None:
    """The rules that read the ticket's state: re-check, hold-down, one message per customer per incident."""
    if intent.rule_id in policy.recheck.rules and ticket is not None and ticket.settled:
        state = "cancelled" if ticket.cancelled else "closed" if ticket.closed else "restored"
        return Decision("suppress", None, f"re-check: the ticket is already {state}", "recheck")
    if intent.rule_id in policy.hold_down.rules:
        if ticket is not None and ticket.reopened_at is not None and ticket.reopened_at > intent.not_before:
            return Decision("suppress", None, "hold-down: the ticket reopened after this restoration", "hold_down")
        ends = intent.not_before + timedelta(minutes=policy.hold_down.minutes)
        if now < ends:
            return Decision("defer", ends, "hold-down: waiting for the line to stay up", "hold_down")
    key = incident_key(intent, ticket, policy=policy)
    told = history.last_told(key) if key else None
    if told is not None:
        at, by = told
        window = timedelta(minutes=policy.incident.window_minutes)
        if by != intent.ticket_id and now - at < window:
            when = at.isoformat(timespec="minutes")
            reason = f"incident {ticket.incident_id if ticket else ''}: {by} told this recipient at {when}"
            return Decision("suppress", None, reason, "incident")
    return None


# ── digest ──────────────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class DigestEntry:
    """One held message: its ticket, when it was held and its headline (`Rendered.subject`)."""

    ticket_id: str | None
    at: datetime
    headline: str


_DIGEST_WORDS = {
    "zh": ("{n}条通知汇总（{first}–{last}）：", "工单{ticket}共{n}条，最新：{headline}", "其他"),
    "en": ("{n} notices held ({first}–{last}):", "ticket {ticket}, {n}, latest: {headline}", "other"),
}


def digest(entries: Sequence[DigestEntry], *, locale: str, timezone: str = "Asia/Shanghai") -> Rendered:
    """One message for the held entries: a count and span, then per ticket (oldest first) its count and newest
    headline; `Rendered.sms(…)` fits it to the SMS budget (the tail is cut first)."""
    if not entries:
        raise ValueError("a digest needs at least one entry")
    tz = ZoneInfo(timezone)
    head, line, other = _DIGEST_WORDS["zh" if locale.startswith("zh") else "en"]
    ordered = sorted(entries, key=lambda e: e.at)
    by_ticket: dict[str | None, list[DigestEntry]] = {}
    for entry in ordered:
        by_ticket.setdefault(entry.ticket_id, []).append(entry)
    span = {"first": f"{ordered[0].at.astimezone(tz):%H:%M}", "last": f"{ordered[-1].at.astimezone(tz):%H:%M}"}
    lines = [head.format(n=len(ordered), **span)]
    for ticket, group in by_ticket.items():
        lines.append(line.format(ticket=ticket or other, n=len(group), headline=group[-1].headline))
    return Rendered("digest", locale, "\n".join(lines))
