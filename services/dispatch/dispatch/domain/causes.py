"""Cause categories of a resolution (DOMAIN.md "Only the operator's equipment counts") and the follow-up items
they leave on a ticket (seed 001 2)-(9)c: an operator-work cause promises the customer a dedicated notice)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from dispatch.domain.model import FollowUp, Ticket
from huying.events import CauseCategory

DEDICATED_NOTICE = "dedicated_notice"

# A ticket resolved by several teams takes the most accountable of their categories: any operator cause makes the
# ticket the operator's (when in doubt it counts, DOMAIN.md "Severe faults"), operator work first because it also
# owes the customer a notice; then the causes outside the operator, the excluded ones (interconnection) first.
PRECEDENCE: tuple[CauseCategory, ...] = (
    CauseCategory.OPERATOR_WORK,
    CauseCategory.OPERATOR_EQUIPMENT,
    CauseCategory.INTERCONNECTION,
    CauseCategory.THIRD_PARTY,
    CauseCategory.CUSTOMER_SIDE,
    CauseCategory.NOT_A_FAULT,
)
assert set(PRECEDENCE) == set(CauseCategory), "every category has its rank"


class NoticeRule(BaseModel):
    """Policy data for the dedicated notice an operator-work cause promises (dispatch/config/policy.yaml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field("dedicated notice to the customer once the cause is confirmed", min_length=1)
    due_hours: float = Field(48.0, gt=0)

    @property
    def due(self) -> timedelta:
        return timedelta(hours=self.due_hours)


def ticket_category(categories: Iterable[CauseCategory | str | None]) -> CauseCategory | None:
    """The ticket's category from its teams' (see PRECEDENCE); None only if no team gave one (older tickets)."""
    given = {CauseCategory(c) for c in categories if c is not None}
    return next((c for c in PRECEDENCE if c in given), None)


def follow_ups_after(
    ticket: Ticket, category: CauseCategory | None, *, rule: NoticeRule, now: datetime
) -> list[FollowUp]:
    """The ticket's follow-up items once it resolves with `category`: operator work adds the dedicated notice,
    once per ticket (a reopened ticket resolved again keeps the promise it already made, and its due time)."""
    if category != CauseCategory.OPERATOR_WORK or any(f.kind == DEDICATED_NOTICE for f in ticket.follow_ups):
        return list(ticket.follow_ups)
    notice = FollowUp(kind=DEDICATED_NOTICE, description=rule.description, created_at=now, due_at=now + rule.due)
    return [*ticket.follow_ups, notice]
