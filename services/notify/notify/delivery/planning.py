"""From a consumed event to recorded notifications: keep the ticket snapshot, build the context (snapshot, the CRM
replica's customer, notify's staff directory), `plan`, and insert one document per intent — before the handler
returns, so before the offset is committed. Duplicates: every document's `_id` and `dedup_key` derive from the
event id, audience, recipient and channel (unique indexes), so a redelivered event inserts nothing (E11000)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from huying.events import Contact, Event, SlaMessage
from huying.idempotency import insert_many_once
from notify import snapshots
from notify.domain.recipients import CustomerView, NotifyContext, StaffDirectory, TicketSnapshot
from notify.domain.rules import plan
from notify.domain.templates import variables_for
from notify.policy import Catalog
from notify.store import NOTIFICATIONS, notification_doc

log = logging.getLogger("notify.planning")


@dataclass
class Planner:
    catalog: Catalog
    staff: StaffDirectory
    unknown_ticket_grace_seconds: float = 5.0
    wake: Callable[[], None] = lambda: None
    max_age: timedelta | None = None

    def concerns(self, event: Event, *, now: datetime) -> bool:
        """Some rule is about this event, and it is not too old to tell anyone about."""
        if self.max_age is not None and now - event.occurred_at > self.max_age:
            log.info("%s %s is older than %s: nobody is notified", event.type, event.event_id, self.max_age)
            return False
        return any(rule.event == event.type for rule in self.catalog.rules.rules)


async def customer_view(db: AsyncDatabase, customer_id: str | None) -> CustomerView | None:
    """The CRM replica's customer (`huying.crm_replica`, notify's own copy)."""
    if not customer_id:
        return None
    doc = await db.customers.find_one({"_id": customer_id})
    if doc is None:
        return None
    manager = doc.get("account_manager")
    return CustomerView(
        customer_id=doc["_id"],
        name=doc.get("name") or doc["_id"],
        account_manager=Contact.model_validate(manager) if manager else None,
        contacts=tuple(Contact.model_validate(c) for c in doc.get("contacts") or ()),
        direct_sms=bool(doc.get("direct_sms", False)),  # not sent by CRM yet (docs/notify-rules.md)
        locale=doc.get("locale"),
    )


async def on_ticket_event(db: AsyncDatabase, planner: Planner, event: Event, *, now: datetime) -> int:
    await snapshots.apply_ticket_event(db, event)
    if not planner.concerns(event, now=now):
        return 0
    return await record(db, planner, event, await snapshots.load(db, getattr(event, "ticket_id", None)), now=now)


async def on_sla_event(db: AsyncDatabase, planner: Planner, event: SlaMessage, *, now: datetime) -> int:
    ticket_id = getattr(event, "ticket_id", None)
    if not planner.concerns(event, now=now):
        if ticket_id and await snapshots.load(db, ticket_id) is not None:
            await snapshots.apply_sla_event(db, event)
        return 0
    snapshot = None
    if ticket_id:
        snapshot = await snapshots.wait_for(db, ticket_id, grace=planner.unknown_ticket_grace_seconds)
        if await snapshots.apply_sla_event(db, event):
            snapshot = await snapshots.load(db, ticket_id)
    return await record(db, planner, event, snapshot, now=now)


async def record(
    db: AsyncDatabase, planner: Planner, event: Event, snapshot: TicketSnapshot | None, *, now: datetime
) -> int:
    """Plan and insert; returns how many notifications this call recorded (0 for a redelivery)."""
    customer_id = getattr(event, "customer_id", None) or (snapshot.customer_id if snapshot else None)
    ctx = NotifyContext(staff=planner.staff, ticket=snapshot, customer=await customer_view(db, customer_id))
    book = planner.catalog.rules
    teams = list(snapshot.teams) if snapshot else []
    team = getattr(event, "team", None) or getattr(event, "subject", None)
    teams += [team] if team and team not in teams else []
    docs = [
        notification_doc(
            intent, event_type=event.type, variables=variables_for(intent, event, ctx, book=book), teams=teams, now=now
        )
        for intent in plan(event, ctx, rules=book)
    ]
    inserted = await insert_many_once(db[NOTIFICATIONS], docs)
    if inserted:
        planner.wake()
    return len(inserted)
