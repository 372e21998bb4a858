"""Who is told, and who goes along, when work reaches a team (DOMAIN.md "Ticket lifecycle and duty rules").

- The person on duty of every receiving team is told by phone and SMS with every dispatch, re-dispatch and transfer
  (seed 001 2)-(2) "必须电话通知工单接收部门"; DOMAIN.md "by phone/SMS to the person on duty"): dispatch asks for it
  with `DutyNotificationRequested`, notify delivers. With nobody on duty it is still asked for, `staff_id=None`, so
  notify tells the team lead instead and the call is never silently skipped.
- The contracted maintainers (代维) the routing data names go with the specialist team (seed 000 rule 2
  "签收后同时派专业和代维处理"), recorded on the ticket beside the work items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from dispatch.domain.lifecycle import Ctx
from dispatch.domain.model import Contractor, Ticket, WorkItem
from dispatch.domain.routing import contractors_for
from huying.events import DutyNotificationRequested

# seed 001 2)-(2) "必须电话通知工单接收部门" (a phone call) and DOMAIN.md "by phone/SMS": both, always.
DUTY_CHANNELS: list[Literal["sms", "phone"]] = ["sms", "phone"]


def duty_notifications(ctx: Ctx, items: Iterable[WorkItem]) -> list[DutyNotificationRequested]:
    """One request per new work item: its team and the member on duty it went to (None: nobody on duty)."""
    requests = []
    for item in items:
        staff = ctx.policy.staff.get(item.assignee) if item.assignee else None
        requests.append(
            ctx.event(
                DutyNotificationRequested,
                team=item.team,
                staff_id=item.assignee,
                name=staff.name if staff else None,
                phone=staff.phone if staff else None,
                channels=list(DUTY_CHANNELS),
            )
        )
    return requests


def new_contractors(
    ctx: Ctx, teams: Sequence[str], pairs: Iterable[tuple[str, str]] | None = None, rule: str | None = None
) -> list[Contractor]:
    """The contractors to dispatch with `teams` (the teams' own from the policy, unless `pairs` says which), less
    those already on the ticket."""
    chosen = contractors_for(teams, ctx.policy.team_contractors) if pairs is None else tuple(pairs)
    present = {c.contractor for c in ctx.ticket.contractors}
    return [Contractor(contractor=c, team=t, dispatched_at=ctx.now, rule=rule) for c, t in chosen if c not in present]


def with_contractors(ticket: Ticket, contractors: list[Contractor]) -> list[Contractor]:
    return [*ticket.contractors, *contractors]
