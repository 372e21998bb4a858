"""What replay reads: `huying.tickets.v1` messages, plus one input the ticket topic does not carry.

`TierChanged` is the engine's own form of a tier change (what the tests and tools build); on the wire a change
arrives as the ticket event `TicketTierChanged` (dispatch, from CRM) or `TicketVerified` (intake), handled alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from huying.events import TicketEvent, TicketResumed, TicketSuspended, Tier


@dataclass(frozen=True, slots=True)
class TierChanged:
    """The ticket's customer moved to another tier while the ticket was open."""

    event_id: str  # e.g. the CustomerUpserted event id, or uuid5(ticket, crm revision)
    occurred_at: datetime
    tier: Tier
    type: Literal["TierChanged"] = field(default="TierChanged", init=False)


SlaInput = TicketEvent | TierChanged

# Ties at the same instant follow the ticket's life, so same-instant events replay sensibly.
_RANK = {
    name: rank
    for rank, names in enumerate(
        (
            ("TicketOpened", "IncidentOpened"),
            ("ReportLinked", "TierChanged", "TicketTierChanged", "TicketVerified"),
            ("TicketDispatched",),
            ("TicketTransferred",),
            ("TicketAccepted",),
            ("CustomerContacted", "ProgressNoted", "ExclusionRecorded"),
            ("TicketSuspended",),
            ("TicketResumed",),
            ("TicketResolved",),
            ("RestorationConfirmed", "FaultReportRequested"),
            ("FaultReportSubmitted", "SatisfactionRecorded"),
            ("TicketClosed",),
            ("TicketReopened",),
            ("TicketCancelled",),
        )
    )
    for name in names
}


def _order(event: SlaInput) -> tuple:
    # Ticket events carry UUIDs, the domain inputs strings: the flag keeps the two from being compared.
    event_id = event.event_id
    tie = (1, event_id) if isinstance(event_id, str) else (0, event_id.int)
    return (event.occurred_at, _RANK.get(event.type, len(_RANK)), tie)


def in_order(events: Iterable[SlaInput]) -> list[SlaInput]:
    """Sorted by when they happened, duplicates (same event_id) dropped: the order replay applies."""
    seen: set = set()
    ordered = []
    for event in sorted(events, key=_order):
        if event.event_id not in seen:
            seen.add(event.event_id)
            ordered.append(event)
    return ordered


def pauses_in_state_order(ordered: list[SlaInput], suspended: Callable[[], bool]) -> Iterator[SlaInput]:
    """Suspensions and resumes at one instant: resume first while suspended, suspend first otherwise.

    Back-to-back pauses (resume and re-suspend at once) then stay one pause, and a zero-length pause never
    leaves the ticket suspended, whichever order the sort put them in.
    """
    i = 0
    while i < len(ordered):
        j = i + 1
        if isinstance(ordered[i], (TicketSuspended, TicketResumed)):
            while (
                j < len(ordered)
                and isinstance(ordered[j], (TicketSuspended, TicketResumed))
                and ordered[j].occurred_at == ordered[i].occurred_at
            ):
                j += 1
        block = ordered[i:j]
        while block:
            wanted = TicketResumed if suspended() else TicketSuspended
            pick = next((e for e in block if isinstance(e, wanted)), block[0])
            block.remove(pick)
            yield pick
        i = j
