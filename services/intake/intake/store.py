"""intake's database, on MongoDB's single-document semantics (see huying.mongo); every query is by `_id` or served
by an index `setup` creates.

Concurrency rule: every write that decides something is one single-document operation whose filter or unique `_id`
decides it — a report is claimed by inserting its key, a correlation window by inserting (or swapping by owner) its
fault key, an area by a version-checked update — so racing requests, batches and replicas each get exactly one
winner without any lock in the process.

- `reports`, `outcomes`: insert-only, keyed by "source_system:external_id" (the insert is the duplicate check);
  expire `retention` after they were received / committed (TTL), a horizon far beyond any redelivery.
- `outbox`: pending events, one document per arrival, each with an `order` from the store's `Sequencer` (strictly
  increasing in write order: a link, written after its ticket's events, always sorts after them); the relay reads
  bounded ranges of `order` and deletes what it published, so the collection stays small.
- `line_windows`, `areas`: small correlation documents (swept / one per city and service family).
- `green_tickets`, `unverified`: what still waits for a formal record or for CRM data (TTL like `reports`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from huying.cache import MISSING, TtlCache
from huying.clock import Clock, SystemClock
from huying.events import AssuranceLevel, Category, Channel, Contact, CustomerGrade, Event, Scope, Tier
from huying.idempotency import insert_many_once, insert_once
from huying.outbox import document_with_outbox, outbox_entry
from huying.service import Runtime
from intake.domain.correlation import Area, Incident, LineWindow, Member
from intake.domain.emit import Outcome
from intake.domain.model import Arrival, Customer, Line, Master, Rules

REPORTS, OUTCOMES, OUTBOX = "reports", "outcomes", "outbox"
WINDOWS, AREAS, UNVERIFIED, GREEN = "line_windows", "areas", "unverified", "green_tickets"
ORDER = "order"  # the outbox's sort key (see Sequencer)
INDEX_OPTIONS_CONFLICT = {85, 86}  # IndexOptionsConflict, IndexKeySpecsConflict


async def setup(runtime: Runtime) -> None:
    """The indexes intake's hot queries use, and the retention horizon (TTL) of what it keeps."""
    db = runtime.db
    await db.service_lines.create_index("customer_id")
    # "does this customer have an inter-city or inter-province line" (an important customer, seed 003): SecantusDB
    # uses a single-field index only when it is the whole filter, so the scope is in the key too
    await db.service_lines.create_index([("customer_id", 1), ("scope", 1)])
    await db[OUTBOX].create_index(ORDER)
    await db[WINDOWS].create_index("end")  # the sweep of ended windows
    await db[UNVERIFIED].create_index("refs")  # "customer:<id>" / "line:<id>": one query per CRM batch
    retention = getattr(runtime.settings, "retention_days", None)
    if retention:
        seconds = int(timedelta(days=retention).total_seconds())
        for collection, field in [
            (REPORTS, "received_at"),
            (OUTCOMES, "committed_at"),
            (GREEN, "created_at"),
            (UNVERIFIED, "created_at"),
        ]:
            await expire_after(db[collection], field, seconds)


async def expire_after(collection: AsyncCollection, field: str, seconds: int) -> None:
    """A TTL index on `field`; a changed horizon is applied to the existing index (collMod) instead of failing."""
    try:
        await collection.create_index(field, expireAfterSeconds=seconds)
    except OperationFailure as error:
        if error.code not in INDEX_OPTIONS_CONFLICT:
            raise
        await collection.database.command(
            "collMod", collection.name, index={"keyPattern": {field: 1}, "expireAfterSeconds": seconds}
        )


class GroupInsert:
    """Single inserts into one collection, sent in groups (group commit): a document inserted while the previous
    group is still on its way joins the next, which goes as one unordered `insert_many` once that returns. Idle,
    an insert goes at once; under load, concurrent requests share round trips (SecantusDB here: ~540 single
    inserts/s, ~14,000/s in bulk). Each caller learns whether its own document went in: False for a duplicate key
    (also against an earlier copy in the same group); any other error is raised to the callers it concerns."""

    def __init__(self, collection: AsyncCollection, *, most: int = 500) -> None:
        self.collection, self.most = collection, most
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def insert(self, document: dict[str, Any]) -> bool:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((document, done))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all())
        return await asyncio.shield(done)

    async def _send_all(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self.most], self._waiting[self.most :]
                await self._send(group)
        finally:
            self._sender = None

    async def _send(self, group: list[tuple[dict[str, Any], asyncio.Future[bool]]]) -> None:
        failed: dict[int, BaseException] = {}
        try:
            await self.collection.insert_many([document for document, _ in group], ordered=False)
        except BulkWriteError as error:
            if error.details.get("writeConcernErrors"):
                failed = dict.fromkeys(range(len(group)), error)
            for item in error.details.get("writeErrors", []):
                failed.setdefault(item["index"], error if item.get("code") != DUPLICATE_KEY else _DUPLICATE)
        except Exception as error:  # the database is away: every caller of the group hears it
            failed = dict.fromkeys(range(len(group)), error)
        for n, (_, done) in enumerate(group):
            if done.done():
                continue
            outcome = failed.get(n)
            if outcome is None or outcome is _DUPLICATE:
                done.set_result(outcome is None)
            else:
                done.set_exception(outcome)


DUPLICATE_KEY = 11000
_DUPLICATE = DuplicateKeyError("duplicate key")


def order_at(at: datetime) -> int:
    """The outbox order of a moment: microseconds since the epoch × 1,000 (room for 1,000 writes per µs)."""
    return int(at.timestamp() * 1_000_000) * 1_000


class Sequencer:
    """Outbox order for this process: from the clock at write time, and strictly greater than the last one given,
    so two writes never tie and a later write never sorts first, even if the wall clock steps back."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self._last = clock, 0

    def next(self) -> int:
        self._last = max(self._last + 1, order_at(self.clock.now()))
        return self._last


class IntakeStore:
    def __init__(
        self, db: AsyncDatabase, rules: Rules, *, crm_cache_seconds: float = 5.0, clock: Clock | None = None
    ) -> None:
        self.db, self.rules = db, rules
        self.sequence = Sequencer(clock or SystemClock())
        self._crm: TtlCache[Any] = TtlCache(crm_cache_seconds)
        self._windows: TtlCache[LineWindow] = TtlCache(rules.line_window.total_seconds())
        self._reports, self._outcomes, self._outbox = (GroupInsert(db[c]) for c in (REPORTS, OUTCOMES, OUTBOX))

    # reports and outcomes: insert-only, keyed by "source_system:external_id"

    async def claim(self, arrival: Arrival, *, now: datetime) -> bool:
        """Record the arrival; False if one with the same key was recorded before (a duplicate)."""
        return await self._reports.insert(_report_doc(arrival, now))

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
        return await self._outcomes.insert({"_id": outcome.report_id, **outcome.to_doc(), "committed_at": now})

    async def commit_many(self, plans: list[tuple[Outcome, list[tuple[str, Event]]]], *, now: datetime) -> set[str]:
        """`commit` for many outcomes in two round trips (their events, then the outcomes); returns the report keys
        whose outcome this call stored (the others were committed first by another copy)."""
        outbox = [self._outbox_doc(outcome.report_id, events, now) for outcome, events in plans if events]
        await insert_many_once(self.db[OUTBOX], outbox)
        outcomes = [{"_id": o.report_id, **o.to_doc(), "committed_at": now} for o, _ in plans]
        return await insert_many_once(self.db[OUTCOMES], outcomes)

    async def enqueue(self, doc_id: str, events: list[tuple[str, Event]], *, now: datetime) -> bool:
        return await self._outbox.insert(self._outbox_doc(doc_id, events, now))

    async def enqueue_many(self, batches: list[tuple[str, list[tuple[str, Event]]]], *, now: datetime) -> set[str]:
        """`enqueue` for many documents in one round trip, ordered as listed; the ids this call inserted."""
        return await insert_many_once(self.db[OUTBOX], [self._outbox_doc(i, events, now) for i, events in batches])

    def _outbox_doc(self, doc_id: str, events: list[tuple[str, Event]], now: datetime) -> dict[str, Any]:
        """A pending outbox document; its `order` is taken now, as it is written (not when its batch began)."""
        entries = [outbox_entry(topic, event) for topic, event in events]
        return document_with_outbox({"_id": doc_id, ORDER: self.sequence.next(), "created_at": now}, entries)

    # CRM replica (written by huying.crm_replica), read through a short cache

    async def master(self, arrival: Arrival, *, fresh: bool = False) -> Master:
        line = await self._lookup("service_lines", arrival.service_line_id, fresh)
        customer_id = arrival.customer_id or (line["customer_id"] if line else None)
        customer = await self._lookup("customers", customer_id, fresh)
        return _master(customer, line)

    async def masters(self, arrivals: list[Arrival]) -> list[Master]:
        """Fresh master data for many arrivals in two queries (their lines, then every customer named)."""
        line_ids = sorted({a.service_line_id for a in arrivals if a.service_line_id})
        lines = {d["_id"]: d for d in await self._fetch("service_lines", line_ids)}
        customer_ids = {
            a.customer_id or (lines.get(a.service_line_id or "") or {}).get("customer_id") for a in arrivals
        }
        customers = {d["_id"]: d for d in await self._fetch("customers", sorted(c for c in customer_ids if c))}
        masters = []
        for a in arrivals:
            line = lines.get(a.service_line_id or "")
            customer = customers.get(a.customer_id or (line["customer_id"] if line else ""))
            masters.append(_master(customer, line))
        for collection, docs in (("service_lines", lines), ("customers", customers)):
            for doc_id, doc in docs.items():
                self._crm.put(f"{collection}:{doc_id}", doc)
        return masters

    async def has_wide_line(self, customer_id: str) -> bool:
        """Whether the customer has an inter-city or inter-province line (which makes it an important customer,
        seed 003): one query on the `customer_id` index, cached like the other CRM lookups."""
        key = f"wide_line:{customer_id}"
        cached = self._crm.get(key)
        if cached is not MISSING:
            return bool(cached)
        wide = {"customer_id": customer_id, "scope": {"$in": [str(Scope.INTER_CITY), str(Scope.INTER_PROVINCE)]}}
        found = await self.db.service_lines.find_one(wide, {"_id": 1}) is not None
        self._crm.put(key, found)
        return found

    async def _fetch(self, collection: str, ids: list[str]) -> list[dict[str, Any]]:
        return await self.db[collection].find({"_id": {"$in": ids}}).to_list() if ids else []

    async def _lookup(self, collection: str, doc_id: str | None, fresh: bool) -> dict[str, Any] | None:
        if not doc_id:
            return None
        cached = self._crm.get(f"{collection}:{doc_id}")
        if cached is not MISSING and not fresh:
            return cached  # type: ignore[return-value]
        doc = await self.db[collection].find_one({"_id": doc_id})
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

    async def commit_window(self, fault: str, window: LineWindow) -> None:
        """The owner's events are in the outbox: later arrivals may link (and cache the window until it ends). The
        target is written here too — the owner may have linked to an incident instead of opening its ticket — as
        no arrival reads a window's target before it is committed."""
        await self.db[WINDOWS].update_one(
            {"_id": fault, "owner": window.owner}, {"$set": {"committed": True, "target": window.target}}
        )

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

    async def add_green(self, ticket_id: str, report_key: str, *, now: datetime) -> None:
        await insert_once(self.db[GREEN], {"_id": ticket_id, "report_id": report_key, "created_at": now})

    async def is_green(self, ticket_id: str) -> bool:
        return await self.db[GREEN].find_one({"_id": ticket_id}, {"_id": 1}) is not None

    async def add_unverified(self, ticket_id: str, arrival: Arrival, tier: str, *, now: datetime) -> None:
        """Keep the ticket (with its arrival, to enrich again) under the CRM references it is waiting for."""
        refs = refs_of(customer_ids=[arrival.customer_id or ""], line_ids=[arrival.service_line_id or ""])
        doc = {"_id": ticket_id, "report_id": arrival.key, "tier": tier, "refs": refs, "created_at": now}
        await insert_once(self.db[UNVERIFIED], {**doc, "arrival": _report_doc(arrival, now)})

    async def unverified_for(self, refs: list[str]) -> list[dict[str, Any]]:
        """The unverified tickets waiting for any of these CRM references (`refs_of`), in one indexed query."""
        return await self.db[UNVERIFIED].find({"refs": {"$in": refs}}).to_list() if refs else []

    async def drop_unverified(self, ticket_ids: Iterable[str]) -> None:
        ids = list(ticket_ids)
        if ids:
            await self.db[UNVERIFIED].delete_many({"_id": {"$in": ids}})

    async def sweep(self, *, now: datetime) -> int:
        """Delete windows that ended more than a window ago (late arrivals still find them until then)."""
        result = await self.db[WINDOWS].delete_many({"end": {"$lt": now - self.rules.line_window}})
        return result.deleted_count


def refs_of(*, customer_ids: Iterable[str], line_ids: Iterable[str]) -> list[str]:
    """The CRM references an unverified ticket waits for, as stored in its multikey `refs`."""
    return sorted({f"customer:{c}" for c in customer_ids if c} | {f"line:{n}" for n in line_ids if n})


def _master(customer: dict[str, Any] | None, line: dict[str, Any] | None) -> Master:
    return Master(
        customer=Customer(
            customer["_id"],
            Tier(customer["tier"]),
            customer["city"],
            CustomerGrade(customer.get("grade") or CustomerGrade.ORDINARY),  # recorded before grades: the default
        )
        if customer
        else None,
        line=Line(
            line["_id"],
            line["customer_id"],
            Category(line["category"]),
            Scope(line["scope"]),
            tuple(line["cities"]),
            line.get("product") or "",
            line.get("product_family"),
            AssuranceLevel(line["assurance_level"]) if line.get("assurance_level") else None,
        )
        if line
        else None,
    )


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
