"""The ticket snapshot read model: what notify knows of each ticket, kept from `huying.tickets.v1` (and the restore
deadline from `huying.sla.v1`), in notify's own `tickets` collection — never read from another service.

Idempotent: the opening is inserted under the ticket id (a redelivery finds it there); every later field is written
by an update guarded on the time of the fact it last took (`<field>_at < occurred_at`), so a redelivered or older
event changes nothing; teams are a set; the storm gate's times (`restored_at`, `reopened_at`: the last
TicketResolved and TicketReopened, `notify.domain.storm.TicketState`) only ever move forward (`$max`), and an
incident's `child_ticket_ids` get it as their parent if they had none. A ticket's events share a partition, so they
arrive in order; SLA events come from another topic and may arrive before the opening (`wait_for`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from huying.events import (
    ClockKind,
    Contact,
    Event,
    IncidentOpened,
    ProgressNoted,
    RestorationConfirmed,
    SlaClockStarted,
    SlaDeadlineMoved,
    TicketCancelled,
    TicketClosed,
    TicketDispatched,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketTierChanged,
    TicketTransferred,
    TicketVerified,
    Tier,
)
from huying.idempotency import insert_once
from notify.domain.recipients import TicketSnapshot
from notify.domain.storm import TicketState

TICKETS = "tickets"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the "taken at" of a field no event has set yet
_GUARDED = ("tier", "restore", "progress", "state")  # field groups with their own "<group>_at"


def _opening(event: TicketOpened | IncidentOpened) -> dict[str, Any]:
    if isinstance(event, TicketOpened):
        snap = TicketSnapshot.from_opened(event)
        fields = {
            "tier": str(snap.tier),
            "city": snap.city,
            "customer_id": snap.customer_id,
            "service_line_id": snap.service_line_id,
            "contact": snap.contact.model_dump(mode="json") if snap.contact else None,
            "full_outage": snap.full_outage,
            "description": snap.description,
            "opened_at": snap.opened_at,
            "parent_incident_id": event.parent_incident_id,
        }
    else:
        fields = {"tier": str(Tier.STANDARD), "city": event.city, "opened_at": event.reported_at, "incident": True}
        fields["description"] = event.reason
    return {
        "_id": event.ticket_id,
        **fields,
        "teams": [],
        "restore_deadline": None,
        "last_progress": None,
        "state": "open",
        "opened_event_id": str(event.event_id),
        **{f"{group}_at": EPOCH for group in _GUARDED},
    }


async def _guarded(db: AsyncDatabase, ticket_id: str, group: str, at: datetime, fields: dict[str, Any]) -> bool:
    done = await db[TICKETS].update_one(
        {"_id": ticket_id, f"{group}_at": {"$lt": at}}, {"$set": {**fields, f"{group}_at": at}}
    )
    return done.modified_count == 1


async def apply_ticket_event(db: AsyncDatabase, event: Event) -> bool:
    """Keep the snapshot up to date with one ticket event; True if it changed."""
    at, tid = event.occurred_at, getattr(event, "ticket_id", "")
    if isinstance(event, TicketOpened | IncidentOpened):
        inserted = await insert_once(db[TICKETS], _opening(event))
        if isinstance(event, IncidentOpened) and event.child_ticket_ids:  # children linked before the incident
            children = {"_id": {"$in": event.child_ticket_ids}, "parent_incident_id": None}
            await db[TICKETS].update_many(children, {"$set": {"parent_incident_id": event.ticket_id}})
        return inserted
    if isinstance(event, TicketVerified):
        fields = {"tier": str(event.tier), "city": event.city, "customer_id": event.customer_id}
        fields["service_line_id"] = event.service_line_id
        return await _guarded(db, tid, "tier", at, fields)
    if isinstance(event, TicketTierChanged):
        return await _guarded(db, tid, "tier", at, {"tier": str(event.tier)})
    if isinstance(event, TicketDispatched):
        done = await db[TICKETS].update_one({"_id": tid}, {"$addToSet": {"teams": {"$each": event.teams}}})
        return done.modified_count == 1
    if isinstance(event, TicketTransferred):
        doc = await db[TICKETS].find_one({"_id": tid}, {"teams": 1})
        if doc is None:
            return False
        teams = [t for t in doc.get("teams", []) if t != event.from_team]
        teams += [] if event.to_team in teams else [event.to_team]
        done = await db[TICKETS].update_one({"_id": tid, "teams": doc.get("teams", [])}, {"$set": {"teams": teams}})
        return done.modified_count == 1
    if isinstance(event, ProgressNoted):
        return await _guarded(db, tid, "progress", at, {"last_progress": event.note})
    state = _STATE_OF.get(type(event))
    if state is None:
        return False
    moved = False
    if (latest := _LATEST_OF.get(type(event))) is not None:
        moved = (await db[TICKETS].update_one({"_id": tid}, {"$max": {latest: at}})).modified_count == 1
    return await _guarded(db, tid, "state", at, {"state": state}) or moved


_STATE_OF: dict[type, str] = {
    TicketResolved: "resolved",
    RestorationConfirmed: "resolved",
    TicketClosed: "closed",
    TicketCancelled: "cancelled",
    TicketReopened: "open",
}


_LATEST_OF: dict[type, str] = {TicketResolved: "restored_at", TicketReopened: "reopened_at"}  # for TicketState


def ticket_state(doc: dict[str, Any]) -> TicketState:
    """What the storm gate re-checks (`notify.domain.storm.TicketState`), from a snapshot document."""
    return TicketState(
        ticket_id=doc["_id"],
        parent_incident_id=doc.get("parent_incident_id"),
        is_incident=bool(doc.get("incident")),
        restored_at=doc.get("restored_at"),
        reopened_at=doc.get("reopened_at"),
        closed=doc.get("state") == "closed",
        cancelled=doc.get("state") == "cancelled",
    )


async def apply_sla_event(db: AsyncDatabase, event: Event) -> bool:
    """The restore clock's deadline (for the cause wording and the templates); other SLA events change nothing."""
    if isinstance(event, SlaClockStarted) and event.clock is ClockKind.RESTORE:
        deadline: datetime | None = event.deadline
    elif isinstance(event, SlaDeadlineMoved) and event.clock is ClockKind.RESTORE:
        deadline = event.new_deadline
    else:
        return False
    return await _guarded(db, event.ticket_id, "restore", event.occurred_at, {"restore_deadline": deadline})


async def load(db: AsyncDatabase, ticket_id: str | None) -> TicketSnapshot | None:
    if not ticket_id:
        return None
    doc = await db[TICKETS].find_one({"_id": ticket_id})
    return snapshot_of(doc) if doc else None


def snapshot_of(doc: dict[str, Any]) -> TicketSnapshot:
    contact = doc.get("contact")
    return TicketSnapshot(
        ticket_id=doc["_id"],
        tier=Tier(doc.get("tier") or Tier.STANDARD),
        city=doc.get("city"),
        customer_id=doc.get("customer_id"),
        service_line_id=doc.get("service_line_id"),
        contact=Contact.model_validate(contact) if contact else None,
        teams=tuple(doc.get("teams") or ()),
        full_outage=bool(doc.get("full_outage")),
        description=doc.get("description") or "",
        opened_at=doc.get("opened_at"),
        restore_deadline=doc.get("restore_deadline"),
        last_progress=doc.get("last_progress"),
    )


async def wait_for(db: AsyncDatabase, ticket_id: str, *, grace: float, step: float = 0.1) -> TicketSnapshot:
    """The snapshot, waiting up to `grace` seconds for a ticket whose opening has not arrived yet (the SLA topic
    may run ahead of the tickets topic); LookupError after that, so the event is dead-lettered (replayable once the
    opening is there), never planned against an empty context."""
    waited = 0.0
    while (snap := await load(db, ticket_id)) is None:
        if waited >= grace:
            raise LookupError(f"no TicketOpened for {ticket_id} within {grace}s")
        await asyncio.sleep(step)
        waited += step
    return snap
