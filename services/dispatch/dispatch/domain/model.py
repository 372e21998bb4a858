"""The ticket aggregate: a ticket, its per-team work items, and the states they move through.

Glossary: 派单 dispatch, 签收 accept, 追加 note progress, 转派 transfer, 挂起/解挂 suspend/resume,
返单 resolve, 回访 follow-up (satisfaction), 故障报告 written fault report.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from huying.events import CauseCategory


class State(StrEnum):
    """Where a ticket is in its life (DOMAIN.md, "Ticket lifecycle and duty rules")."""

    OPENED = "opened"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    SUSPENDED = "suspended"
    RESOLVED = "resolved"
    CONFIRMED = "confirmed"  # restoration confirmed with the customer (or the NOC)
    CLOSED = "closed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({State.OPENED, State.DISPATCHED, State.ACCEPTED, State.IN_PROGRESS, State.SUSPENDED})
WORKING = frozenset({State.ACCEPTED, State.IN_PROGRESS, State.SUSPENDED})
DONE = frozenset({State.RESOLVED, State.CONFIRMED, State.CLOSED})


class ItemStatus(StrEnum):
    """One team's share of a ticket; a transferred item stays, marked, so nothing is ever lost."""

    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"


OPEN_ITEM = frozenset({ItemStatus.DISPATCHED, ItemStatus.ACCEPTED})


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, use_enum_values=True, extra="ignore")


class WorkItem(_Model):
    """A team's work item: dispatched to it, accepted by one of its members, resolved by it."""

    team: str
    status: ItemStatus = ItemStatus.DISPATCHED
    assignee: str | None = None
    dispatched_at: AwareDatetime
    accepted_at: AwareDatetime | None = None
    accepted_by: str | None = None
    resolved_at: AwareDatetime | None = None
    restored_at: AwareDatetime | None = None
    cause: str | None = None
    cause_category: CauseCategory | None = None
    breaches: int = 0  # acceptance breaches already acted on for this item
    previous_assignees: list[str] = Field(default_factory=list)
    rule: str | None = None  # routing rule that sent it here (for its acceptance-breach policy)

    @property
    def open(self) -> bool:
        return self.status in OPEN_ITEM


class Consent(_Model):
    """The customer's consent to a suspension: who gave it, how, when."""

    by: str = Field(min_length=1, description="Customer person who consented.", examples=["王伟"])
    method: str = Field(min_length=1, description="How consent was given.", examples=["phone"])
    at: AwareDatetime = Field(description="When consent was given.", examples=["2026-03-02T02:00:00Z"])


class FollowUp(_Model):
    """A promise a resolution leaves on the ticket, with its own due time (e.g. the dedicated notice to the
    customer once an operator-work cause is confirmed, seed 001 2)-(9)c)."""

    kind: str
    description: str
    created_at: AwareDatetime
    due_at: AwareDatetime


class Contractor(_Model):
    """A contracted maintainer (代维) dispatched together with a specialist team (seed 000 rule 2: "签收后同时派专业和
    代维处理"). An assignee of another kind, not a work item: the team leads, accepts and resolves; the contractor
    works with it and is recorded for the fault report (seed 000 rule 8)."""

    contractor: str
    team: str  # the specialist team it works with
    dispatched_at: AwareDatetime
    rule: str | None = None


class ContactResult(_Model):
    """One reported result of contacting the reporting customer: reached, or not reached and why (seed 000 rule 3)."""

    at: AwareDatetime
    method: str
    reached: bool = True
    not_reached_reason: str | None = None
    by: str


class LeaderRecord(_Model):
    """A leader informed of the fault, when and by whom (seed 000 rule 8), from an escalation or an operator."""

    audience: str
    informed_at: AwareDatetime
    informed_by: str
    leader: str | None = None
    escalation_event_id: str | None = None


class QualityCheck(_Model):
    """The monitoring center's quality check of a returned ticket (seed 002 第25条)."""

    result: str
    remarks: str = ""
    checked_by: str
    checked_at: AwareDatetime


class Suspension(_Model):
    """A suspension, requested with consent and (once approved by a supervisor) in force."""

    reason: str
    consent: Consent
    requested_by: str
    requested_at: AwareDatetime
    approved_by: str | None = None
    approved_at: AwareDatetime | None = None


class Ticket(_Model):
    """The aggregate. `version` grows by one with every write; a write names the version it read."""

    ticket_id: str
    kind: str = "ticket"  # or "incident" (parent of a mass outage)
    state: State = State.OPENED
    version: int = 0
    opened_at: AwareDatetime
    reported_at: AwareDatetime
    correlation_id: str | None = None
    customer_id: str | None = None
    service_line_id: str | None = None
    tier: str | None = None
    verified: bool = True  # False while intake had no CRM data for it: its TicketVerified brings the tier
    terminal_only: bool = False  # handled at standard tier whatever the customer's tier (表72 note)
    scope: str | None = None
    category: str | None = None
    city: str | None = None
    cities: list[str] = Field(default_factory=list)
    core_network: bool = False
    severity: str = "normal"
    severe_since: AwareDatetime | None = None  # when it passed the severe mark (TicketSeverityChanged, seed 003)
    assurance_level: str | None = None  # the line's explicit level (业务保障等级); None: it follows the tier
    restore_deadline: AwareDatetime | None = None  # the restore clock's deadline as sla-watch last said (queue order)
    channel: str | None = None
    description: str = ""
    contact: dict[str, Any] | None = None
    parent_incident_id: str | None = None
    route: str | None = None
    work_items: list[WorkItem] = Field(default_factory=list)
    contractors: list[Contractor] = Field(default_factory=list)
    suspension_request: Suspension | None = None
    suspension: Suspension | None = None
    contacted_at: AwareDatetime | None = None
    contact_results: list[ContactResult] = Field(default_factory=list)
    leaders_informed: list[LeaderRecord] = Field(default_factory=list)
    quality_checks: list[QualityCheck] = Field(default_factory=list)
    resolved_at: AwareDatetime | None = None
    restored_at: AwareDatetime | None = None
    cause: str | None = None
    cause_category: CauseCategory | None = None
    follow_ups: list[FollowUp] = Field(default_factory=list)
    confirmed_by: str | None = None
    closed_at: AwareDatetime | None = None
    fault_report_requested_by: str | None = None
    fault_report_ref: str | None = None
    satisfied: bool | None = None
    linked_reports: list[dict[str, Any]] = Field(default_factory=list)
    exclusions: list[dict[str, Any]] = Field(default_factory=list)

    def items(self, *statuses: ItemStatus) -> list[WorkItem]:
        return [i for i in self.work_items if not statuses or i.status in statuses]

    def open_teams(self) -> list[str]:
        return [i.team for i in self.work_items if i.open]

    def open_assignees(self) -> list[str]:
        return sorted({i.assignee for i in self.work_items if i.open and i.assignee})

    def replace_item(self, old: WorkItem, new: WorkItem | list[WorkItem]) -> list[WorkItem]:
        """The work-item list with `old` replaced (by one item or several), order kept."""
        out: list[WorkItem] = []
        for item in self.work_items:
            if item is old:
                out.extend(new if isinstance(new, list) else [new])
            else:
                out.append(item)
        return out


class HistoryEntry(_Model):
    """One append-only line of the audit trail: who did what, when, and what it changed."""

    at: datetime
    actor: str
    role: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    details: dict[str, Any] = Field(default_factory=dict)
    event_ids: list[str] = Field(default_factory=list)


_RECORDS = ("contractors", "contact_results", "leaders_informed", "quality_checks")


def snapshot(ticket: Ticket) -> dict[str, Any]:
    """The ticket's state as flat path → value pairs ("work_items/0/status"), so before/after shows exactly
    what an action changed (paths use "/" because MongoDB-protocol stores refuse "." in keys)."""
    flat: dict[str, Any] = {}
    lists = {"version", "work_items", "linked_reports", "exclusions", "follow_ups", *_RECORDS}
    for key, value in ticket.model_dump(mode="json", exclude=lists).items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                flat[f"{key}/{sub}"] = inner
        else:
            flat[key] = value
    for n, item in enumerate(ticket.work_items):
        for key, value in item.model_dump(mode="json").items():
            flat[f"work_items/{n}/{key}"] = value
    for name in ("follow_ups", *_RECORDS):
        for n, record in enumerate(getattr(ticket, name)):
            for key, value in record.model_dump(mode="json").items():
                flat[f"{name}/{n}/{key}"] = value
    flat["linked_reports"] = len(ticket.linked_reports)
    flat["exclusions"] = len(ticket.exclusions)
    return flat


def diff(before: Ticket, after: Ticket) -> tuple[dict[str, Any], dict[str, Any]]:
    """What changed between two versions of a ticket: (old values, new values) of the changed keys only."""
    old, new = snapshot(before), snapshot(after)
    keys = [k for k in {**old, **new} if old.get(k) != new.get(k)]
    return {k: old.get(k) for k in keys}, {k: new.get(k) for k in keys}
