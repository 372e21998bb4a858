"""`huying.tickets.v1`: the life of a ticket, keyed by ticket id so its events stay in order."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime

from huying.events.base import (
    AssuranceLevel,
    Category,
    CauseCategory,
    Channel,
    CustomerGrade,
    Event,
    F,
    Scope,
    Severity,
    Tier,
)
from huying.events.intake import Contact


class TicketEvent(Event):
    """Base of every ticket-scoped event."""

    ticket_id: str = F("Ticket id (the partition key).", "T-20260302-000123")
    actor: str | None = F("Operator id or service that caused the event.", "op-gz-017", default=None)

    def partition_key(self) -> bytes:
        return self.ticket_id.encode()


class TicketOpened(TicketEvent):
    """A ticket was opened, with the snapshot every downstream service needs."""

    type: Literal["TicketOpened"] = "TicketOpened"
    source_system: str = F("Source system of the report that opened it.", "10086-cc")
    external_id: str = F("The report's id in the source system.", "CC20260302-000123")
    channel: Channel = F("Channel of the opening report.", "hotline")
    customer_id: str | None = F("CRM customer id.", "C-440100-0001", default=None)
    service_line_id: str | None = F("CRM service line id.", "L-440100-0001-01", default=None)
    tier: Tier = F("Tier applied to this ticket (standard for unverified or terminal-only).", "gold")
    scope: Scope = F("Scope of the affected line.", "intra_city")
    category: Category = F("Service category.", "access")
    city: str | None = F("City of the fault.", "广州", default=None)
    customer_grade: CustomerGrade | None = F(
        "The customer's grade from CRM (important: provincial or city_diamond); None when unverified.",
        "ordinary",
        default=None,
    )
    assurance_level: AssuranceLevel | None = F(
        "The line's explicit assurance level from CRM; None: it follows the tier (restore limit, quality budget).",
        "AA",
        default=None,
    )
    product_family: str | None = F("The line's product family from CRM, if it has one.", "internet", default=None)
    reported_at: AwareDatetime = F(
        "When the customer reported (call time for the green channel).", "2026-03-02T01:15:00Z"
    )
    alarm_at: AwareDatetime | None = F(
        "Earliest correlated monitoring alarm, if any (restore clock starts at the earlier of this and reported_at).",
        "2026-03-02T01:12:30Z",
        default=None,
    )
    severity: Severity = F("normal or severe (严重故障).", "normal", default=Severity.NORMAL)
    full_outage: bool = F("Service fully down (全阻).", True, default=False)
    leadership_notice: bool = F("Gold/silver full outage: leadership must be told at once.", True, default=False)
    core_network: bool = F(
        "The fault is in the core network: routed to the core-network specialists (转派).", False, default=False
    )
    parent_incident_id: str | None = F(
        "Parent incident, for a child of a mass outage.", "I-20260302-0007", default=None
    )
    backfill_due: AwareDatetime | None = F(
        "Green channel: when the formal ticket must be back-filled (补录).", "2026-03-03T01:15:00Z", default=None
    )
    verified: bool = F("False while customer or line is unknown to the CRM replica.", True, default=True)
    terminal_only: bool = F(
        "A handset/terminal fault handled at standard tier whatever the customer's tier (表72 note): it does not "
        "follow the customer's tier changes.",
        False,
        default=False,
    )
    description: str = F("Problem description.", "专线中断，无法访问互联网", default="")
    contact: Contact | None = F("Reporting contact.", {"name": "王伟", "phone": "13800138000"}, default=None)


class IncidentOpened(TicketEvent):
    """A severe incident (parent ticket) grouping reports of one mass outage."""

    type: Literal["IncidentOpened"] = "IncidentOpened"
    category: Category = F("Service category affected.", "overlay")
    city: str = F("City affected.", "广州")
    reported_at: AwareDatetime = F("First report in the correlation window.", "2026-03-02T01:15:00Z")
    severity: Severity = F("Always severe.", "severe", default=Severity.SEVERE)
    reason: str = F("Why it was opened.", "3 customers reported overlay faults in 广州 within 30 min")
    child_ticket_ids: list[str] = F("Tickets already linked as children.", ["T-1", "T-2", "T-3"], default_factory=list)


class ReportLinked(TicketEvent):
    """A further report was attached to an existing ticket instead of opening a new one."""

    type: Literal["ReportLinked"] = "ReportLinked"
    source_system: str = F("Source system of the linked report.", "nms")
    external_id: str = F("Id of the linked report in its source system.", "NMS-20260302-778812")
    channel: Channel = F("Channel of the linked report.", "monitoring")
    reported_at: AwareDatetime = F("When the linked report was made.", "2026-03-02T01:12:30Z")
    link: Literal["same_line", "incident_child", "backfill", "duplicate_customer"] = F(
        "Why it was linked.", "same_line"
    )


class TicketVerified(TicketEvent):
    """CRM data arrived for a ticket opened unverified (unknown customer or line): the snapshot it now has.

    Intake never re-sends TicketOpened; this additive event carries the upgrade (tier, scope, category, city)."""

    type: Literal["TicketVerified"] = "TicketVerified"
    customer_id: str | None = F("CRM customer id.", "C-440100-0001", default=None)
    service_line_id: str | None = F("CRM service line id.", "L-440100-0001-01", default=None)
    tier: Tier = F("Tier the ticket has now (standard stays for terminal-only faults).", "gold")
    scope: Scope = F("Scope of the affected line.", "intra_city")
    category: Category = F("Service category.", "access")
    city: str | None = F("City of the fault.", "广州", default=None)
    previous_tier: Tier = F("Tier the ticket was opened with.", "standard")
    customer_grade: CustomerGrade | None = F("The customer's grade from CRM.", "provincial", default=None)
    assurance_level: AssuranceLevel | None = F(
        "The line's explicit assurance level from CRM; None: it follows the tier.", "AAA", default=None
    )
    product_family: str | None = F("The line's product family from CRM, if it has one.", "internet", default=None)


class TicketTierChanged(TicketEvent):
    """The customer's tier changed in CRM while the ticket was live (open, or resolved and owing its written report):
    the ticket follows it. sla-watch re-prices the running clocks; a change never makes a clock overdue by itself.

    Sent by dispatch (which owns the ticket) on the ticket's partition, so it is ordered with the ticket's other
    events. Tickets opened unverified get their tier from intake's `TicketVerified` instead."""

    type: Literal["TicketTierChanged"] = "TicketTierChanged"
    customer_id: str = F("CRM customer id.", "C-440100-0001")
    tier: Tier = F("Tier the ticket has from now on.", "gold")
    previous_tier: Tier = F("Tier it had before.", "silver")
    crm_revision: int = F("CRM revision of the customer record that changed it.", 8, ge=0)


class TicketDispatched(TicketEvent):
    """Work items were created for one or more teams (派单)."""

    type: Literal["TicketDispatched"] = "TicketDispatched"
    teams: list[str] = F("Teams dispatched to, one work item each.", ["gz-access-ops"], min_length=1)
    contractors: list[str] = F(
        "Contracted maintainers (代维) dispatched together with the teams (seed 000), as routing data says.",
        ["gz-daiwei-01"],
        default_factory=list,
    )
    redispatch: bool = F("True when dispatched again (e.g. after an acceptance breach).", False, default=False)


class TicketAccepted(TicketEvent):
    """A team accepted (签收) its work item."""

    type: Literal["TicketAccepted"] = "TicketAccepted"
    team: str = F("Accepting team.", "gz-access-ops")


class CustomerContacted(TicketEvent):
    """The maintainer reached the reporting customer."""

    type: Literal["CustomerContacted"] = "CustomerContacted"
    contacted_at: AwareDatetime = F("When contact was made (or last tried).", "2026-03-02T01:25:00Z")
    method: Literal["phone", "sms", "on_site", "email"] = F("How.", "phone")
    reached: bool = F(
        "False: the customer was not reached; reporting that result (with the reason) meets the 15-minute duty "
        '(seed 000 "反馈维护人员与报障用户联系结果").',
        True,
        default=True,
    )
    not_reached_reason: str | None = F("Why not, when not reached.", "电话无人接听", default=None)


class ProgressNoted(TicketEvent):
    """Progress was appended (追加) to the ticket."""

    type: Literal["ProgressNoted"] = "ProgressNoted"
    note: str = F("What was done or found.", "已定位光缆中断点，抢修中", min_length=1)
    customer_informed: bool = F("The customer was told this progress.", True, default=False)


class TicketTransferred(TicketEvent):
    """A work item moved to another team (转派)."""

    type: Literal["TicketTransferred"] = "TicketTransferred"
    from_team: str = F("Team giving up the work item.", "gz-access-ops")
    to_team: str = F("Team receiving it.", "prov-core-network")
    reason: str = F("Why.", "核心网故障，转省核心网专业")


class TicketSuspended(TicketEvent):
    """Ticket suspended (挂起) with the customer's consent and a supervisor's approval; clocks pause."""

    type: Literal["TicketSuspended"] = "TicketSuspended"
    reason: str = F("Why.", "客户机房断电，待客户恢复供电")
    consent_by: str | None = F("Customer person who consented.", "王伟", default=None)
    consent_method: str | None = F("How consent was given.", "phone", default=None)
    consent_at: AwareDatetime | None = F("When consent was given.", "2026-03-02T02:00:00Z", default=None)
    approved_by: str | None = F("Supervisor who approved.", "sup-prov-003", default=None)


class TicketResumed(TicketEvent):
    """Ticket resumed (解挂); clocks run again."""

    type: Literal["TicketResumed"] = "TicketResumed"


class ExclusionKind(StrEnum):
    CUSTOMER_CAUSED = "customer_caused"
    INTERCONNECTION = "interconnection"


class ExclusionRecorded(TicketEvent):
    """An interval that does not count against the restore limit (customer-caused or 互联互通)."""

    type: Literal["ExclusionRecorded"] = "ExclusionRecorded"
    kind: ExclusionKind = F("customer_caused or interconnection.", "interconnection")
    start: AwareDatetime = F("Start of the excluded interval.", "2026-03-02T01:40:00Z")
    end: AwareDatetime = F("End of the excluded interval.", "2026-03-02T02:10:00Z")
    reason: str = F("Why it is excluded.", "对端运营商传输故障")


class TicketResolved(TicketEvent):
    """Service restored and ticket returned (返单) with a clear cause."""

    type: Literal["TicketResolved"] = "TicketResolved"
    cause: str = F("Cause of the fault.", "光缆被施工挖断", min_length=1)
    restored_at: AwareDatetime = F("When service was restored.", "2026-03-02T02:55:00Z")
    resolution: str = F("What was done.", "熔接光缆", default="")
    cause_category: CauseCategory | None = F(
        "Cause category (only operator_equipment and operator_work count against the restore commitment and the "
        "quality budget). None on events from before it existed: counted as the operator's.",
        "third_party",
        default=None,
    )


class WorkItemResolved(TicketEvent):
    """One team finished its work item of a multi-team ticket; the ticket resolves (TicketResolved) with the last."""

    type: Literal["WorkItemResolved"] = "WorkItemResolved"
    team: str = F("Team that finished.", "sz-access-ops")
    cause: str = F("Cause that team found.", "本端光缆被施工挖断", min_length=1)
    cause_category: CauseCategory | None = F("Cause category that team found.", "third_party", default=None)
    restored_at: AwareDatetime = F("When that team restored its part.", "2026-03-02T02:40:00Z")
    remaining_teams: list[str] = F("Teams still working.", ["gz-access-ops"], default_factory=list)


class RestorationConfirmed(TicketEvent):
    """Customer service confirmed with the customer (or the NOC with the alarm) that service is back."""

    type: Literal["RestorationConfirmed"] = "RestorationConfirmed"
    method: Literal["customer", "noc_alarm_cleared"] = F("How it was confirmed.", "customer")


class TicketClosed(TicketEvent):
    """Ticket closed."""

    type: Literal["TicketClosed"] = "TicketClosed"


class TicketReopened(TicketEvent):
    """Ticket reopened; the restore clock continues from the time already spent."""

    type: Literal["TicketReopened"] = "TicketReopened"
    reason: str = F("Why.", "客户反馈仍无法访问")


class TicketCancelled(TicketEvent):
    """Ticket cancelled (e.g. opened in error)."""

    type: Literal["TicketCancelled"] = "TicketCancelled"
    reason: str = F("Why.", "重复报障")


class FaultReportRequested(TicketEvent):
    """The customer asked for a written fault report (silver: due within 7 days of the request)."""

    type: Literal["FaultReportRequested"] = "FaultReportRequested"
    requested_by: str = F("Who asked (customer contact or account manager).", "王伟")


class FaultReportSubmitted(TicketEvent):
    """The written fault report (故障报告) was submitted."""

    type: Literal["FaultReportSubmitted"] = "FaultReportSubmitted"
    document_ref: str = F("Reference of the report document.", "FR-2026-0301-01")
    kind: Literal["customer", "internal", "remediation"] = F(
        "customer: the report to the customer (表74); internal: the internal fault report every fault owes within 2 "
        "working days (seed 000 rule 10); remediation: the remediation item (整治工作) owed when that was late.",
        "internal",
        default="customer",
    )


class SatisfactionRecorded(TicketEvent):
    """Follow-up (回访) result."""

    type: Literal["SatisfactionRecorded"] = "SatisfactionRecorded"
    satisfied: bool = F("Customer rated the service satisfied.", True)
    comment: str = F("Customer's words.", "处理及时", default="")
    called_by: str | None = F(
        "Who made the follow-up: the account manager or the hotline agent (None on events from before it existed).",
        "cs-01",
        default=None,
    )
    method: Literal["phone", "visit", "sms", "email"] | None = F(
        "How the customer was followed up (by phone it needs no signature).", "phone", default=None
    )
    called_at: AwareDatetime | None = F("When the follow-up was made.", "2026-03-02T06:00:00Z", default=None)
    reached: str | None = F("Whom they reached at the customer.", "王伟", default=None)


class DutyNotificationRequested(TicketEvent):
    """Dispatch asks for the person on duty of a receiving team to be told by phone/SMS (seed 001 "必须电话通知工单
    接收部门"); notify delivers it. Sent with every dispatch and transfer."""

    type: Literal["DutyNotificationRequested"] = "DutyNotificationRequested"
    team: str = F("Receiving team.", "gz-access-ops")
    staff_id: str | None = F("The person on duty, from the roster (None: nobody on the roster now).", "op-gz-017")
    name: str | None = F("Their name.", "张强", default=None)
    phone: str | None = F("Their phone.", "13700137000", default=None)
    channels: list[Literal["sms", "phone"]] = F("How to reach them.", ["sms", "phone"], default_factory=list)


class LeaderInformed(TicketEvent):
    """A leader was informed of the fault (seed 000 rule 8: leaders informed, with when and by whom), recorded on the
    ticket from an escalation or by an operator; listed in the fault report data."""

    type: Literal["LeaderInformed"] = "LeaderInformed"
    audience: Literal["director", "deputy_gm", "leadership"] = F("Which leader.", "director")
    informed_at: AwareDatetime = F("When.", "2026-03-02T03:15:00Z")
    informed_by: str = F("Who informed them (an operator id, or the service that raised the escalation).", "sla-watch")
    leader: str | None = F("The leader's name, when known.", "陈总", default=None)
    escalation_event_id: str | None = F(
        "The EscalationRaised it came from, if any.", "8a3c5f0e-0000-4000-8000-000000000001", default=None
    )


class QualityChecked(TicketEvent):
    """The monitoring center quality-checked a returned ticket (seed 002 第25条)."""

    type: Literal["QualityChecked"] = "QualityChecked"
    result: Literal["passed", "failed"] = F("Check result.", "passed")
    remarks: str = F("What was found.", "原因描述清楚，处理过程完整", default="")
