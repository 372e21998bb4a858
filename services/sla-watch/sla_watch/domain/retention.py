"""How long sla-watch keeps a ticket's SLA records once nothing is left to watch (the stores' TTL dates).

A ticket is *settled* when none of its clocks runs (a paused clock still runs) and no timer is pending: nothing
can fire and nothing is owed until a new event (a reopen, a report request) starts a clock again. Its ledger and
timers are then kept `horizon` after the moment it settled, and dropped by the database (TTL). A new event within
the horizon finds the ledger and un-settles the ticket; one after it finds none (and starts no clock). Events that
arrive before the ticket's TicketOpened count as settled too, so a ledger that never opens does not stay forever.

A line's faults and sent budget events are kept `horizon` after the end of their year (Shanghai): a fault counts
against the year its restore clock started, and a late resolution still finds that year's other faults.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sla_watch.domain.clocks import TicketSla
from sla_watch.domain.workdays import SHANGHAI


def settled(sla: TicketSla | None, *, pending: bool) -> bool:
    """No running clock and no pending timer (or not opened yet)."""
    return not pending and (sla is None or not any(c.running for c in sla.clocks))


def purge_after(sla: TicketSla | None, *, pending: bool, now: datetime, horizon: timedelta) -> datetime | None:
    """When the ticket's ledger and timers may go: `horizon` after `now` once settled; None (keep) otherwise."""
    return now + horizon if settled(sla, pending=pending) else None


def year_purge_after(year: int, horizon: timedelta) -> datetime:
    """When a line's faults and budget events of `year` may go: `horizon` after the year's end in Shanghai."""
    return (datetime(year + 1, 1, 1, tzinfo=SHANGHAI) + horizon).astimezone(UTC)
