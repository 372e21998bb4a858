"""The order of the work queue: restore by assurance-level priority (seed 001 2-(4); DOMAIN.md "Severe faults and
mass outages": "the queue orders work by tier, then by deadline").

The level is the line's assurance level (业务保障等级) when CRM set one, else its customer's tier's (gold→AAA …
standard→普通); incidents (a mass outage of ordinary customers) rank as 普通 — their gold and silver customers keep
their own tickets. Within a level the nearest restore deadline first (as sla-watch last said it); a ticket whose
deadline dispatch does not know (not yet said, or paused while suspended) comes after those it knows, oldest report
first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from dispatch.domain.model import Ticket
from huying.events import AssuranceLevel, Tier

RANK = {AssuranceLevel.AAA: 0, AssuranceLevel.AA: 1, AssuranceLevel.A: 2, AssuranceLevel.ORDINARY: 3}
assert set(RANK) == set(AssuranceLevel), "every level has its rank"


def level_of(ticket: Ticket) -> AssuranceLevel:
    """The ticket's assurance level: the line's explicit one, else its tier's (standard when it has none)."""
    if ticket.assurance_level:
        return AssuranceLevel(ticket.assurance_level)
    return AssuranceLevel.of_tier(Tier(ticket.tier or Tier.STANDARD))


def queue_key(ticket: Ticket) -> tuple[int, bool, datetime, datetime, str]:
    deadline = ticket.restore_deadline
    known = deadline or ticket.reported_at
    return (RANK[level_of(ticket)], deadline is None, known, ticket.reported_at, ticket.ticket_id)


def queue_order(tickets: Iterable[Ticket]) -> list[Ticket]:
    """Highest level first, then the nearest restore deadline, then the oldest report (then the id: a total order)."""
    return sorted(tickets, key=queue_key)
