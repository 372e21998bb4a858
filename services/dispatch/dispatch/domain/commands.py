"""Operator commands (imperative), one per action; they are also the HTTP request bodies."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from dispatch.domain.model import Consent
from huying.events import CauseCategory, ExclusionKind


class Command(BaseModel):
    """Base: `expected_version` (optional) is the ticket version the operator saw; a newer one answers 409."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    action: ClassVar[str] = ""

    expected_version: int | None = Field(
        None, ge=0, description="Version the operator acted on; 409 if the ticket changed since.", examples=[3]
    )


class _TeamChoice(Command):
    team: str | None = Field(
        None, description="Your team's work item to act on (needed only if several of your teams have one)."
    )


class Dispatch(Command):
    action: ClassVar[str] = "dispatch"
    teams: list[str] = Field(min_length=1, description="Teams to dispatch to, one work item each.")


class Accept(_TeamChoice):
    action: ClassVar[str] = "accept"


class RecordContact(_TeamChoice):
    """The result of contacting the reporting customer (seed 000 rule 3 "反馈维护人员与报障用户联系结果"): reached,
    or not reached and why; reporting either meets the 15-minute duty."""

    action: ClassVar[str] = "contact"
    contacted_at: AwareDatetime = Field(description="When the customer was reached (or last tried).")
    method: Literal["phone", "sms", "on_site", "email"] = "phone"
    reached: bool = Field(True, description="False: the customer was not reached (then the reason is required).")
    not_reached_reason: str | None = Field(
        None, max_length=500, description="Why not, when not reached.", examples=["电话无人接听"]
    )


class NoteProgress(_TeamChoice):
    action: ClassVar[str] = "progress"
    note: str = Field(min_length=1, max_length=4000, description="What was done or found (must be true).")
    customer_informed: bool = Field(False, description="The customer was told this progress.")


class Transfer(_TeamChoice):
    action: ClassVar[str] = "transfer"
    to_team: str = Field(min_length=1, description="Team that takes the work item over.")
    reason: str = Field(min_length=1, description="Why (e.g. 核心网故障，转省核心网专业).")


class Suspend(Command):
    """A team member asks (a supervisor must approve); a supervisor asking suspends at once, approving it."""

    action: ClassVar[str] = "suspend"
    reason: str = Field(min_length=1, description="Why the ticket cannot progress.")
    consent: Consent = Field(description="The customer's consent: who, how, when (required).")


class ApproveSuspension(Command):
    action: ClassVar[str] = "approve_suspension"


class Resume(Command):
    action: ClassVar[str] = "resume"


class RecordExclusion(Command):
    action: ClassVar[str] = "exclusion"
    kind: ExclusionKind = Field(description="customer_caused or interconnection (互联互通).")
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=1)


class Resolve(_TeamChoice):
    action: ClassVar[str] = "resolve"
    cause: str = Field(min_length=1, description="The cause; it must be clear (返单原因).")
    cause_category: CauseCategory = Field(
        description="What caused it: only operator_equipment and operator_work count against the restore commitment "
        "and the quality budget; operator_work also promises the customer a dedicated notice (a follow-up item).",
        examples=["third_party"],
    )
    restored_at: AwareDatetime = Field(description="When service was restored.")
    resolution: str = Field("", description="What was done.")


class ConfirmRestoration(Command):
    action: ClassVar[str] = "confirm"
    method: Literal["customer", "noc_alarm_cleared"] = Field(
        "customer", description="customer, or noc_alarm_cleared at night / when the customer can't be reached."
    )


class Close(Command):
    action: ClassVar[str] = "close"


class Reopen(Command):
    action: ClassVar[str] = "reopen"
    reason: str = Field(min_length=1)


class Cancel(Command):
    action: ClassVar[str] = "cancel"
    reason: str = Field(min_length=1)


class RequestFaultReport(Command):
    action: ClassVar[str] = "request_fault_report"
    requested_by: str = Field(min_length=1, description="Customer contact or account manager who asked.")


class SubmitFaultReport(Command):
    action: ClassVar[str] = "submit_fault_report"
    document_ref: str = Field(min_length=1, description="Reference of the written report (故障报告).")


class RecordSatisfaction(Command):
    action: ClassVar[str] = "satisfaction"
    called_by: str = Field(min_length=1, description="Who called: the account manager or the hotline agent.")
    method: Literal["phone", "visit", "sms", "email"] = Field(description="How (by phone: no signature needed).")
    called_at: AwareDatetime = Field(description="When the follow-up was made (after the resolution).")
    reached: str = Field(min_length=1, description="Whom they reached at the customer.", examples=["王伟"])
    satisfied: bool = Field(description="The customer rated the service satisfied.")
    comment: str = Field("", description="The customer's words.")


class RecordLeaderInformed(Command):
    """A leader was told of the fault by hand (seed 000 rule 8 "上报领导 … 在故障报告中体现"); team lead or above."""

    action: ClassVar[str] = "inform_leader"
    audience: Literal["director", "deputy_gm", "leadership"] = Field(
        description="director (分公司客响中心主任), deputy_gm (分管运维副总) or leadership (部门领导).",
        examples=["director"],
    )
    leader: str | None = Field(None, max_length=100, description="The leader's name.", examples=["陈总"])
    informed_at: AwareDatetime = Field(description="When they were told.")


class QualityCheck(Command):
    """The monitoring center's quality check of a returned ticket (seed 002 第25条 "对…回复的障碍工单进行质检")."""

    action: ClassVar[str] = "quality_check"
    result: Literal["passed", "failed"] = Field(description="passed or failed.", examples=["passed"])
    remarks: str = Field("", max_length=4000, description="What was found (required when failed).")


COMMANDS: tuple[type[Command], ...] = (
    Dispatch,
    Accept,
    RecordContact,
    NoteProgress,
    Transfer,
    Suspend,
    ApproveSuspension,
    Resume,
    RecordExclusion,
    Resolve,
    ConfirmRestoration,
    Close,
    Reopen,
    Cancel,
    RequestFaultReport,
    SubmitFaultReport,
    RecordSatisfaction,
    RecordLeaderInformed,
    QualityCheck,
)
