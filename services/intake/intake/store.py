"""intake's database. FerretDB scans a collection for every find/update (see huying.mongo), so the hot path is
insert-first on natural ids (reports, outcomes, outbox), and the documents that are read and swapped
(correlation windows, areas, pending outbox) live in small collections that are swept."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from huying.events import Category, Channel, Contact, Event, Scope, Tier
from huying.idempotency import insert_many_once, insert_once
from huying.outbox import document_with_outbox, outbox_entry
from huying.service import Runtime
from intake.cache import MISSING, TtlCache
from intake.domain.correlation import Area, Incident, LineWindow, Member
from intake.domain.emit import Outcome
from intake.domain.model import Arrival, Customer, Line, Master, Rules

REPORTS, OUTCOMES, OUTBOX = "reports", "outcomes", "outbox"
WINDOWS, AREAS, UNVERIFIED, GREEN = "line_windows", "areas", "unverified", "green_tickets"


async def setup(runtime: Runtime) -> None:
    await runtime.db.service_lines.create_index("customer_id")


class IntakeStore:
    def __init__(self, db: AsyncDatabase, rules: Rules, *, crm_cache_seconds: float = 5.0) -> None:
        self.db, self.rules = db, rules
        self._crm: TtlCache[Any] = TtlCache(crm_cache_seconds)
        self._windows: TtlCache[LineWindow] = TtlCache(rules.line_window.total_seconds())

    # reports and outcomes: insert-only, keyed by "source_system:external_id"

    async def claim(self, arrival: Arrival, *, now: datetime) -> bool:
        """Record the arrival; False if one with the same key was recorded before (a duplicate)."""
        return await insert_once(self.db[REPORTS], _report_doc(arrival, now))

    async def claim_many(self, arrivals: list[Arrival], *, now: datetime) -> set[str]:
        """Record a batch of arrivals in one round trip; the keys recorded by this call (the rest are duplicates,
        as is a second copy of a key within the batch)."""
        docs: dict[str, dict[str, Any]] = {}
        for arrival in arrivals:
            docs.setdefault(arrival.key, _report_doc(arrival, now))
        return await insert_many_once(self.db[REPORTS], list(docs.values()))

    async def report(self, key: str) -> dict[str, Any] | None:
        return await self.db[REPORTS].find_one({"_id": key})

    async def outcome(self, key: str) -> Outcome | None:
        doc = await self.db[OUTCOMES].find_one({"_id": key}, {"_id": 0, "committed_at": 0})
        return Outcome(**doc) if doc else None

    async def wait_outcome(self, key: str, *, timeout: float) -> Outcome | None:
        """The outcome of a report another request or replica is still handling, once it is committed."""
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + timeout, 0.02
        while True:
            found = await self.outcome(key)
            if found or loop.time() >= deadline:
                return found
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    async def commit(self, outcome: Outcome, events: list[tuple[str, Event]], *, now: datetime) -> bool:
        """Events first (outbox), then the outcome: a crash between them makes the retry re-emit the same event
        ids (de-duplicated downstream) rather than leave an outcome whose events were never sent."""
        if events:
            await self.enqueue(outcome.report_id, events, now=now)
        return await insert_once(self.db[OUTCOMES], {"_id": outcome.report_id, **outcome.to_doc(), "committed_at": now})

    async def commit_many(self, plans: list[tuple[Outcome, list[tuple[str, Event]]]], *, now: datetime) -> set[str]:
        """`commit` for many outcomes in two round trips (their events, then the outcomes); returns the report keys
        whose outcome this call stored (the others were committed first by another copy)."""
        outbox = [
            document_with_outbox(
                {"_id": outcome.report_id, "created_at": now}, [outbox_entry(topic, e) for topic, e in events]
            )
            for outcome, events in plans
            if events
        ]
        await insert_many_once(self.db[OUTBOX], outbox)
        outcomes = [{"_id": o.report_id, **o.to_doc(), "committed_at": now} for o, _ in plans]
        return await insert_many_once(self.db[OUTCOMES], outcomes)

    async def enqueue(self, doc_id: str, events: list[tuple[str, Event]], *, now: datetime) -> bool:
        entries = [outbox_entry(topic, event) for topic, event in events]
        return await insert_once(self.db[OUTBOX], document_with_outbox({"_id": doc_id, "created_at": now}, entries))

    # CRM replica (written by huying.crm_replica), read through a short cache

    async def master(self, arrival: Arrival, *, fresh: bool = False) -> Master:
        line = await self._lookup("service_lines", arrival.service_line_id, fresh)
        customer_id = arrival.customer_id or (line["customer_id"] if line else None)
        customer = await self._lookup("customers", customer_id, fresh)
        return Master(
            customer=Customer(customer["_id"], Tier(customer["tier"]), customer["city"]) if customer else None,
            line=Line(
                line["_id"],
                line["customer_id"],
                Category(line["category"]),
                Scope(line["scope"]),
                tuple(line["cities"]),
            )
            if line
            else None,
        )

    async def _lookup(self, collection: str, doc_id: str | None, fresh: bool) -> dict[str, Any] | None:
        if not doc_id:
            return None
        cached = self._crm.get(f"{collection}:{doc_id}")
        if cached is not MISSING and not fresh:
            return cached  # type: ignore[return-value]
        doc = await self.db[collection].find_one({"_id": doc_id}, {"applied_events": 0})
        self._crm.put(f"{collection}:{doc_id}", doc)
        return doc

    # line windows: one small document per fault key, swapped when it has ended

    async def window(self, fault: str) -> LineWindow | None:
        cached = self._windows.get(fault)
        if cached is not MISSING:
            return cached  # type: ignore[return-value]
        doc = await self.db[WINDOWS].find_one({"_id": fault})
        return _window(doc) if doc else None

    async def claim_window(self, fault: str, window: LineWindow, *, replacing: str | None) -> LineWindow | None:
        """Insert (or swap an ended one for) this window; None if another arrival got there first."""
        doc = {"owner": window.owner, "target": window.target, "start": window.start, "end": window.end}
        if replacing is None:
            try:
                await self.db[WINDOWS].insert_one({"_id": fault, **doc, "committed": False})
            except DuplicateKeyError:
                return None
            return window
        swapped = await self.db[WINDOWS].update_one(
            {"_id": fault, "owner": replacing}, {"$set": {**doc, "committed": False}}
        )
        return window if swapped.modified_count == 1 else None

    async def fresh_window(self, fault: str) -> LineWindow | None:
        doc = await self.db[WINDOWS].find_one({"_id": fault})
        return _window(doc) if doc else None

    async def retarget_window(self, fault: str, window: LineWindow, target: str) -> LineWindow:
        """The owner linked to an incident instead of opening a ticket: the window points there (before commit)."""
        await self.db[WINDOWS].update_one({"_id": fault, "owner": window.owner}, {"$set": {"target": target}})
        return replace(window, target=target)

    async def commit_window(self, fault: str, window: LineWindow) -> None:
        """The owner's events are in the outbox: later arrivals may link (and cache the window until it ends)."""
        await self.db[WINDOWS].update_one({"_id": fault, "owner": window.owner}, {"$set": {"committed": True}})

    def remember_window(self, fault: str, window: LineWindow, *, now: datetime) -> None:
        if window.committed:
            self._windows.put(fault, window, max(0.0, (window.end - now).total_seconds()))

    # areas: one document per (city, category), compare-and-swap on a version

    async def area(self, area_id: str) -> tuple[Area, int | None]:
        doc = await self.db[AREAS].find_one({"_id": area_id})
        return (_area(doc), doc["version"]) if doc else (Area(), None)

    async def save_area(self, area_id: str, area: Area, *, version: int | None) -> bool:
        """Write the area's next state unless someone else wrote it since `version` was read."""
        state = _area_doc(area)
        if version is None:
            return await insert_once(self.db[AREAS], {"_id": area_id, **state, "version": 1})
        result = await self.db[AREAS].update_one(
            {"_id": area_id, "version": version}, {"$set": state, "$inc": {"version": 1}}
        )
        return result.modified_count == 1

    async def commit_incident(self, area_id: str, incident_id: str) -> None:
        await self.db[AREAS].update_one(
            {"_id": area_id, "incident.incident_id": incident_id},
            {"$set": {"incident.committed": True}, "$inc": {"version": 1}},
        )

    # green-channel tickets awaiting their formal record, and unverified tickets awaiting CRM data

    async def add_green(self, ticket_id: str, report_key: str) -> None:
        await insert_once(self.db[GREEN], {"_id": ticket_id, "report_id": report_key})

    async def is_green(self, ticket_id: str) -> bool:
        return await self.db[GREEN].find_one({"_id": ticket_id}, {"_id": 1}) is not None

    async def add_unverified(self, ticket_id: str, report_key: str, tier: str) -> None:
        report = await self.report(report_key) or {}
        doc = {"_id": ticket_id, "report_id": report_key, "tier": tier}
        refs = {"customer_id": report.get("customer_id"), "service_line_id": report.get("service_line_id")}
        await insert_once(self.db[UNVERIFIED], {**doc, **refs})

    async def unverified_for(self, *, customer_id: str | None, line_id: str | None) -> list[dict[str, Any]]:
        ors = [{"customer_id": customer_id}] if customer_id else []
        ors += [{"service_line_id": line_id}] if line_id else []
        return await self.db[UNVERIFIED].find({"$or": ors}).to_list() if ors else []

    async def drop_unverified(self, ticket_id: str) -> None:
        await self.db[UNVERIFIED].delete_one({"_id": ticket_id})

    async def sweep(self, *, now: datetime) -> int:
        """Delete windows that ended more than a window ago (late arrivals still find them until then)."""
        result = await self.db[WINDOWS].delete_many({"end": {"$lt": now - self.rules.line_window}})
        return result.deleted_count


def _report_doc(arrival: Arrival, now: datetime) -> dict[str, Any]:
    return {
        "_id": arrival.key,
        "source_system": arrival.source_system,
        "external_id": arrival.external_id,
        "channel": str(arrival.channel),
        "reported_at": arrival.reported_at,
        "customer_id": arrival.customer_id,
        "service_line_id": arrival.service_line_id,
        "contact": arrival.contact.model_dump() if arrival.contact else None,
        "category_hint": str(arrival.category_hint) if arrival.category_hint else None,
        "description": arrival.description,
        "attributes": arrival.attributes,
        "alarm_severity": arrival.alarm_severity,
        "city_hint": arrival.city_hint,
        "received_at": now,
    }


def _window(doc: dict[str, Any]) -> LineWindow:
    return LineWindow(doc["owner"], doc["target"], doc["start"], doc["end"], doc.get("committed", False))


def _area(doc: dict[str, Any]) -> Area:
    incident = doc.get("incident")
    return Area(
        members=tuple(Member(m["reporter"], m["key"], m["at"], m["ticket_id"]) for m in doc.get("members", [])),
        incident=Incident(**{**incident, "children": tuple(incident["children"])}) if incident else None,
    )


def _area_doc(area: Area) -> dict[str, Any]:
    incident = area.incident
    return {
        "members": [dict(vars(m)) for m in area.members],
        "incident": {**vars(incident), "children": list(incident.children)} if incident else None,
    }


def arrival_from_doc(doc: dict[str, Any]) -> Arrival:
    """The arrival as recorded by `claim` (for re-checking an unverified ticket)."""
    attributes = doc.get("attributes") or {}
    return Arrival(
        source_system=doc["source_system"],
        external_id=doc["external_id"],
        channel=Channel(doc["channel"]),
        reported_at=doc["reported_at"],
        customer_id=doc.get("customer_id"),
        service_line_id=doc.get("service_line_id"),
        contact=Contact(**doc["contact"]) if doc.get("contact") else None,
        category_hint=Category(doc["category_hint"]) if doc.get("category_hint") else None,
        description=doc.get("description", ""),
        attributes=attributes,
        alarm_severity=doc.get("alarm_severity"),
        city_hint=doc.get("city_hint"),
    )
