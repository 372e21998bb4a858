"""Correlation, pure: one ticket per fault (a line, or a customer and category) within a window, and a severe
incident when enough distinct ordinary customers in one city report a full outage of the same service within the
incident window (seed 003 一、6: "在30分钟内接到3家以上普通集团客户反映在一个地市范围内全部用户无法使用某一
业务…从接到第3家客户投诉起"). An area is one (city, service); an arrival that does not count (a degradation,
an important or unknown customer) never makes an incident and is never one of its three, but joins one already
open there.

The state lives in intake's database (small documents, compare-and-swap); these functions only decide."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from intake.domain.ids import incident_id_for
from intake.domain.model import Rules

# An incident's last activity is only rewritten when it moves by more than this: fewer writes in a storm.
LAST_AT_STEP = timedelta(minutes=1)


class LineVerdict(StrEnum):
    MINE = "mine"  # this arrival owns the window (first, or a retry of the owner)
    LINK = "link"  # another arrival's ticket covers it
    CLAIM = "claim"  # no window yet: claim one
    REPLACE = "replace"  # the window has ended: claim a new one in its place
    NONE = "none"  # older than the window it found: open without a window


@dataclass(frozen=True)
class LineWindow:
    """One fault's window: every arrival for the same line (or customer and category) joins `target`."""

    owner: str  # key of the arrival that opened it
    target: str  # the ticket (or incident) later arrivals link to
    start: datetime
    end: datetime
    committed: bool = False  # the owner's events are in the outbox, so links may follow them


def line_verdict(window: LineWindow | None, *, key: str, at: datetime, rules: Rules) -> LineVerdict:
    """Whether an arrival at `at` opens, joins or replaces the fault's window."""
    if window is None:
        return LineVerdict.CLAIM
    if window.owner == key:
        return LineVerdict.MINE
    if window.start - rules.line_window <= at < window.end:
        return LineVerdict.LINK
    if at >= window.end:
        return LineVerdict.REPLACE
    return LineVerdict.NONE


def new_window(*, key: str, target: str, at: datetime, rules: Rules) -> LineWindow:
    return LineWindow(owner=key, target=target, start=at, end=at + rules.line_window)


@dataclass(frozen=True)
class Member:
    """A distinct counting reporter in a city and service whose ticket may become an incident's child."""

    reporter: str
    key: str
    at: datetime
    ticket_id: str


@dataclass(frozen=True)
class Incident:
    incident_id: str
    opened_by: str
    first_at: datetime
    last_at: datetime
    children: tuple[str, ...]
    committed: bool = False


@dataclass(frozen=True)
class Area:
    """Correlation state of one (city, service): recent reporters until an incident opens, then the incident."""

    members: tuple[Member, ...] = ()
    incident: Incident | None = None


@dataclass(frozen=True)
class Candidate:
    """An arrival about to open a ticket in an area."""

    key: str
    reporter: str
    at: datetime
    ticket_id: str
    own_ticket_in_incident: bool  # e.g. gold/silver: keeps its own child ticket so its tier clocks run
    counts: bool = True  # an ordinary customer's full outage: one of the three that make a mass outage


class AreaKind(StrEnum):
    STANDALONE = "standalone"  # opens its own ticket, no incident
    CHILD = "child"  # opens its own ticket, child of the incident
    LINKED = "linked"  # opens nothing: linked to the incident as a child report
    OPENED = "opened"  # opened the incident (and its own child ticket if own_ticket_in_incident)


@dataclass(frozen=True)
class AreaVerdict:
    kind: AreaKind
    incident: Incident | None = None
    own_ticket: bool = True  # False: the arrival opens no ticket of its own (linked to the incident)


def _active(incident: Incident, at: datetime, rules: Rules) -> bool:
    return incident.first_at - rules.incident_window <= at <= incident.last_at + rules.incident_quiet


def _qualifying(members: tuple[Member, ...], at: datetime, rules: Rules) -> tuple[Member, ...]:
    """Members of an incident window containing `at` that holds enough distinct reporters (first such window)."""
    for start in sorted(m.at for m in members if at - rules.incident_window <= m.at <= at):
        inside = tuple(m for m in members if start <= m.at <= start + rules.incident_window)
        if len(inside) >= rules.incident_threshold:
            return inside
    return ()


def correlate_area(area: Area, c: Candidate, rules: Rules) -> tuple[Area, AreaVerdict]:
    """The area's next state and what the candidate becomes. A retry of the same arrival gets the same verdict."""
    incident = area.incident
    if incident and incident.opened_by == c.key:
        return area, AreaVerdict(AreaKind.OPENED, incident, c.own_ticket_in_incident)
    if incident and _active(incident, c.at, rules):
        if c.at > incident.last_at + LAST_AT_STEP:
            area = replace(area, incident=replace(incident, last_at=c.at))
        if c.own_ticket_in_incident and c.ticket_id not in incident.children:
            # remembered as the incident's: a later report on this ticket never counts towards another incident
            area = replace(area, incident=replace(area.incident, children=(*incident.children, c.ticket_id)))
        kind = AreaKind.CHILD if c.own_ticket_in_incident else AreaKind.LINKED
        return area, AreaVerdict(kind, area.incident, c.own_ticket_in_incident)
    if not c.counts:
        return area, AreaVerdict(AreaKind.STANDALONE)
    if incident and c.ticket_id in incident.children:
        # already a child of the area's last incident (e.g. its degraded ticket now reports a full outage after that
        # incident went quiet): it was counted there, and a ticket has one parent
        return area, AreaVerdict(AreaKind.STANDALONE)
    latest = max([c.at, *(m.at for m in area.members)])
    members = tuple(m for m in area.members if m.at >= latest - rules.incident_window)
    known = next((m for m in members if m.reporter == c.reporter), None)
    if known is None:
        members = (*members, Member(c.reporter, c.key, c.at, c.ticket_id))
    elif c.at > known.at:  # the same reporter again: keep its first ticket, count its latest report
        members = tuple(replace(m, at=c.at) if m is known else m for m in members)
    qualifying = _qualifying(members, c.at, rules) if known is None else ()
    if not qualifying:
        return Area(members=members, incident=incident), AreaVerdict(
            AreaKind.STANDALONE
        )  # keep the last one: its children
    children = tuple(m.ticket_id for m in qualifying if m.key != c.key or c.own_ticket_in_incident)
    opened = Incident(
        incident_id=incident_id_for(c.key),
        opened_by=c.key,
        first_at=min(m.at for m in qualifying),
        last_at=max(m.at for m in qualifying),
        children=children,
    )
    rest = tuple(m for m in members if m not in qualifying)
    return Area(members=rest, incident=opened), AreaVerdict(AreaKind.OPENED, opened, c.own_ticket_in_incident)
