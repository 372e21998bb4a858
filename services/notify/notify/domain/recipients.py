"""Who a notice goes to: the data notify plans with, and how each audience resolves to people.

Everything here is read from what notify itself holds — the ticket snapshot it keeps from `huying.tickets.v1`, the CRM
replica (customer contacts, account manager 客户经理, whether the contract allows direct SMS to the customer) and the
staff directory notify owns (duty staff, team leads, leaders per city) — never from another service's database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from huying.events import (
    DutyNotificationRequested,
    Event,
    TicketOpened,
    Tier,
)
from huying.events.intake import Contact


class Audience(StrEnum):
    """Who a rule notifies."""

    CUSTOMER_CONTACT = "customer_contact"  # the customer's contact, directly (only where the contract allows)
    ACCOUNT_MANAGER = "account_manager"  # 客户经理: always told, tells the customer
    DUTY_STAFF = "duty_staff"  # the person on duty of a receiving team (值班人员)
    HANDLING_TEAM = "handling_team"  # the team(s) working the ticket
    TEAM_LEAD = "team_lead"  # lead of a handling team
    DUTY_SUPERVISOR = "duty_supervisor"  # the duty supervisor of the city (值班长)
    BRANCH_DIRECTOR = "branch_director"  # 分公司客响中心主任 (escalation level 1)
    DEPUTY_GM = "deputy_gm"  # 分公司分管运维副总 (escalation level 2)
    LEADERSHIP = "leadership"  # 本部门相关领导 (gold/silver full outage, at once)
    CUSTOMER_SERVICE = "customer_service"  # 客服 / the hotline: confirms restoration, makes the follow-up (回访)


CITY_ROLES = frozenset(
    {
        Audience.DUTY_SUPERVISOR,
        Audience.BRANCH_DIRECTOR,
        Audience.DEPUTY_GM,
        Audience.LEADERSHIP,
        Audience.CUSTOMER_SERVICE,
    }
)


@dataclass(frozen=True)
class Person:
    """One recipient with the addresses notify may use. `ref` is stable and carries no personal data (it ends up in
    dedup keys, which are published on `huying.notifications.v1`)."""

    ref: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    webhook: str | None = None
    locale: str | None = None

    def __post_init__(self) -> None:
        if not self.ref:
            raise ValueError("a recipient needs a non-empty ref")


def pseudonym(kind: str, *parts: str | None) -> str:
    """A stable ref for someone without an id (a CRM contact): a hash, so no phone or name leaks into keys."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:16]
    return f"{kind}:{digest}"


def contact_person(contact: Contact, *, kind: str, owner: str | None) -> Person:
    """A CRM or report `Contact` as a recipient."""
    return Person(
        ref=pseudonym(kind, owner, contact.name, contact.phone, contact.email),
        name=contact.name,
        phone=contact.phone,
        email=contact.email,
    )


@dataclass(frozen=True)
class TicketSnapshot:
    """What notify keeps about a ticket from `huying.tickets.v1` (and the restore deadline from `huying.sla.v1`)."""

    ticket_id: str
    tier: Tier
    city: str | None = None
    customer_id: str | None = None
    service_line_id: str | None = None
    contact: Contact | None = None
    teams: tuple[str, ...] = ()
    full_outage: bool = False
    description: str = ""
    opened_at: datetime | None = None  # the outage's start: the report or the earliest alarm
    restore_deadline: datetime | None = None
    last_progress: str | None = None

    @classmethod
    def from_opened(cls, event: TicketOpened) -> TicketSnapshot:
        return cls(
            ticket_id=event.ticket_id,
            tier=event.tier,
            city=event.city,
            customer_id=event.customer_id,
            service_line_id=event.service_line_id,
            contact=event.contact,
            full_outage=event.full_outage,
            description=event.description,
            opened_at=min(t for t in (event.reported_at, event.alarm_at) if t is not None),
        )


@dataclass(frozen=True)
class CustomerView:
    """The CRM replica's view of the customer. `direct_sms` says whether the contract lets notify text the customer's
    contact directly (DOMAIN.md "Who tells the customer"); CRM does not send it yet, so it defaults to False."""

    customer_id: str
    name: str
    account_manager: Contact | None = None
    contacts: tuple[Contact, ...] = ()
    direct_sms: bool = False
    locale: str | None = None


@dataclass(frozen=True)
class Team:
    """A team in the staff directory; `phone` is its duty phone (值班电话)."""

    team_id: str
    name: str
    city: str | None = None
    phone: str | None = None
    email: str | None = None
    webhook: str | None = None
    lead: str | None = None  # staff id of the team lead
    on_duty: str | None = None  # staff id of the person on duty now


class StaffDirectory(Protocol):
    """notify's own directory of staff, teams and leaders per city."""

    def team(self, team_id: str) -> Team | None: ...

    def staff(self, staff_id: str) -> Person | None: ...

    def holders(self, role: Audience, city: str | None) -> tuple[Person, ...]: ...


@dataclass(frozen=True)
class InMemoryStaffDirectory:
    """A directory held in memory: loaded from a file by the wiring, built by hand in tests. A role without holders
    in a city falls back to the province's (city None)."""

    teams: Mapping[str, Team] = field(default_factory=dict)
    people: Mapping[str, Person] = field(default_factory=dict)
    roles: Mapping[tuple[Audience, str | None], tuple[str, ...]] = field(default_factory=dict)

    def team(self, team_id: str) -> Team | None:
        return self.teams.get(team_id)

    def staff(self, staff_id: str) -> Person | None:
        return self.people.get(staff_id)

    def holders(self, role: Audience, city: str | None) -> tuple[Person, ...]:
        ids = self.roles.get((role, city)) or self.roles.get((role, None)) or ()
        return tuple(p for p in (self.people.get(i) for i in ids) if p is not None)


@dataclass(frozen=True)
class NotifyContext:
    """Everything `plan` reads besides the event and the rules."""

    staff: StaffDirectory
    ticket: TicketSnapshot | None = None
    customer: CustomerView | None = None


def _team_person(team: Team) -> Person:
    return Person(ref=f"team:{team.team_id}", name=team.name, phone=team.phone, email=team.email, webhook=team.webhook)


def _teams(event: Event, ctx: NotifyContext) -> list[Team]:
    """The teams an event is about: its own team or subject (a per-team clock) if the directory knows it, else the
    ticket's."""
    named = [getattr(event, "team", None), getattr(event, "subject", None)]
    own = [t for t in (ctx.staff.team(n) for n in named if n) if t is not None]
    if own:
        return own[:1]
    ticket_teams = ctx.ticket.teams if ctx.ticket else ()
    return [t for t in (ctx.staff.team(n) for n in ticket_teams) if t is not None]


def city_of(event: Event, ctx: NotifyContext) -> str | None:
    return getattr(event, "city", None) or (ctx.ticket.city if ctx.ticket else None)


def _customer_contacts(event: Event, ctx: NotifyContext) -> list[Person]:
    """The reporting contact (event or snapshot), else the first CRM contact: one message per customer."""
    owner = ctx.customer.customer_id if ctx.customer else (ctx.ticket.ticket_id if ctx.ticket else None)
    reporting = getattr(event, "contact", None) or (ctx.ticket.contact if ctx.ticket else None)
    chosen = reporting or (ctx.customer.contacts[0] if ctx.customer and ctx.customer.contacts else None)
    if chosen is None:
        return []
    person = contact_person(chosen, kind="contact", owner=owner)
    locale = ctx.customer.locale if ctx.customer else None
    return [Person(person.ref, person.name, person.phone, person.email, None, locale)]


def _duty_staff(event: Event, ctx: NotifyContext) -> list[Person]:
    if isinstance(event, DutyNotificationRequested):
        if event.staff_id is None:
            return []
        known = ctx.staff.staff(event.staff_id)
        return [
            Person(
                ref=f"staff:{event.staff_id}",
                name=event.name or (known.name if known else None),
                phone=event.phone or (known.phone if known else None),
                email=known.email if known else None,
                locale=known.locale if known else None,
            )
        ]
    on_duty = [t.on_duty for t in _teams(event, ctx) if t.on_duty]
    return [p for p in (ctx.staff.staff(s) for s in on_duty) if p is not None]


def resolve(audience: Audience, event: Event, ctx: NotifyContext) -> list[Person]:
    """The people of `audience` for this event; empty when notify's data names nobody (the caller records the gap)."""
    if audience is Audience.CUSTOMER_CONTACT:
        return _customer_contacts(event, ctx)
    if audience is Audience.ACCOUNT_MANAGER:
        manager = ctx.customer.account_manager if ctx.customer else None
        if manager is None or ctx.customer is None:
            return []
        person = contact_person(manager, kind="account_manager", owner=ctx.customer.customer_id)
        return [person]
    if audience is Audience.DUTY_STAFF:
        return _duty_staff(event, ctx)
    if audience is Audience.HANDLING_TEAM:
        return [_team_person(t) for t in _teams(event, ctx)]
    if audience is Audience.TEAM_LEAD:
        leads = [t.lead for t in _teams(event, ctx) if t.lead]
        return [p for p in (ctx.staff.staff(s) for s in dict.fromkeys(leads)) if p is not None]
    return list(ctx.staff.holders(audience, city_of(event, ctx)))
