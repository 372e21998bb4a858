"""Everyone involved in a fault, for the fault report (seed 000 rule 8: "故障处理中涉及的值班人员、代维人员、配合人员、
上报领导、用户方人员都必须明确在系统中追加信息并在故障报告中体现")."""

from __future__ import annotations

from typing import Any

from dispatch.domain.model import Ticket


def involved(ticket: Ticket) -> dict[str, Any]:
    """The ticket's people by role: duty staff (everyone a work item went to or who accepted one, in order), the
    teams, the contracted maintainers, the leaders informed (when, by whom), the contact results with the customer.
    Helpers (配合人员) are not recorded separately yet: a helping team is a work item, so it is among the teams."""
    staff: list[str] = []
    for item in ticket.work_items:
        staff += [*item.previous_assignees, *(p for p in (item.assignee, item.accepted_by) if p)]
    return {
        "duty_staff": list(dict.fromkeys(staff)),
        "teams": list(dict.fromkeys(i.team for i in ticket.work_items)),
        "contractors": [c.model_dump(mode="json") for c in ticket.contractors],
        "leaders_informed": [r.model_dump(mode="json") for r in ticket.leaders_informed],
        "customer_contacts": [r.model_dump(mode="json") for r in ticket.contact_results],
    }
