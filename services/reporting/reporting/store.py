"""reporting's database: the read models it owns, their indexes, and the queries the API answers.

| collection | one document per | a duplicate is detected by |
|---|---|---|
| `ticket_facts` | ticket (or incident) | its event id, recorded (`applied`) in the facts' version-checked write |
| `notification_outcomes` | notification | a deterministic upsert guarded by the event's order (not newer than itself) |
| `line_quality` | line × year × measure | a deterministic upsert guarded by the event's order (idem) |
| `customers`, `service_lines` | CRM record | the CRM replica's guarded upsert (`huying.crm_replica`) |
| `period_snapshots` | filed report version (period × version) | not a read model: written once, `_id` `<period>|v<n>` |

Concurrency rule: a ticket's facts are written by whichever replica holds the partition of the event (tickets or
sla topic), so every write is `{_id, version}`-checked and a loser re-reads and re-folds (sla-watch's ledger
rule); nothing else reads-then-writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from huying.events import Event, NotificationFailed, NotificationSent, QualityBudgetExceeded, QualityBudgetWarning
from huying.rebuild import start_read_models
from huying.service import Runtime
from reporting.domain import kpis
from reporting.domain.entries import entry_of
from reporting.domain.facts import fold

FACTS, OUTCOMES, QUALITY = "ticket_facts", "notification_outcomes", "line_quality"
COLLECTIONS = (FACTS, OUTCOMES, QUALITY)
# The filed quarterly reports' data (reporting.exports.snapshots). Not a read model, so not in COLLECTIONS: a rebuild
# from the log must never drop what was filed.
SNAPSHOTS = "period_snapshots"


async def setup(runtime: Runtime) -> None:
    db = runtime.db
    await db.service_lines.create_index("customer_id")
    await db[FACTS].create_index("reported_at")  # every KPI query: the period's range
    await db[FACTS].create_index("quality_year")  # per-line quality of a year
    await db[FACTS].create_index("parent_incident_id")  # an incident's children
    await db[FACTS].create_index("follow_up.status")  # follow-ups owed or reminded
    await db[OUTCOMES].create_index("ticket_id")  # a ticket's notifications
    await db[QUALITY].create_index("year")  # the budget events of a year
    await db[SNAPSHOTS].create_index([("period", 1), ("version", -1)], unique=True)  # a period's newest version
    await start_read_models(runtime)  # the CRM replica and the event read models, replayed if the database is stale


def document(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A ticket's facts document from its entries: the facts, its KPI contributions and its breaches."""
    facts = fold(entries)
    contribution, breaches = kpis.contributions(facts), kpis.breaches(facts)
    return {**facts, "kpi": contribution, "breaches": breaches, "by_team": kpis.by_team(facts)}


async def apply_ticket_event(db: AsyncDatabase, ticket_id: str, event: Event) -> bool:
    """Fold one event into its ticket's facts; False when the event was already applied (a redelivery).
    Duplicate: its event id is in `applied`, written in the same version-checked write as the facts."""
    entry, key = entry_of(event), str(event.event_id)
    # Lock-free: an attempt fails only because another event of the ticket was written meanwhile, so the loop ends
    # (after at most as many rounds as there are concurrent writers; normally two: the ticket and the SLA topic).
    while True:
        doc = await db[FACTS].find_one({"_id": ticket_id}, {"applied": 1, "log": 1, "version": 1})
        if doc is not None and key in doc.get("applied", []):
            return False
        log = [*(doc or {}).get("log", []), entry]
        fields = {**document(log), "log": log, "ticket_id": ticket_id}
        if doc is None:
            try:
                await db[FACTS].insert_one({"_id": ticket_id, "version": 1, "applied": [key], **fields})
                return True
            except DuplicateKeyError:
                continue  # another replica wrote the first fact meanwhile: fold onto it
        done = await db[FACTS].update_one(
            {"_id": ticket_id, "version": doc["version"]},
            {"$set": {**fields, "version": doc["version"] + 1}, "$push": {"applied": key}},
        )
        if done.matched_count:
            return True


def _order(event: Event) -> str:
    """An event's place among its document's events: time, then id (a tie is settled, a redelivery is not newer)."""
    return f"{event.occurred_at.isoformat()}|{event.event_id}"


async def _guarded_upsert(collection: AsyncCollection, doc_id: str, order: str, fields: dict[str, Any]) -> bool:
    """Set the fields when the stored document is older than `order` (or absent); False for an event not newer."""
    try:
        done = await collection.update_one(
            {"_id": doc_id, "order": {"$lt": order}}, {"$set": {**fields, "order": order}}, upsert=True
        )
    except DuplicateKeyError:
        return False  # the document exists and is as new or newer: the upsert's insert collided with it
    return bool(done.modified_count or done.upserted_id is not None)


async def apply_notification(db: AsyncDatabase, event: NotificationSent | NotificationFailed) -> bool:
    """`notification_outcomes`: the newest outcome of one notification (sent, or failed with its last error).
    Duplicate: a deterministic upsert that changes nothing for an event not newer than the stored one."""
    fields = {
        "ticket_id": event.ticket_id, "dedup_key": event.dedup_key, "channel": event.channel,
        "recipient_role": event.recipient_role, "attempts": event.attempts, "at": event.occurred_at,
        "outcome": "sent" if isinstance(event, NotificationSent) else "failed",
        "error": getattr(event, "error", None), "event_id": str(event.event_id),
    }  # fmt: skip
    return await _guarded_upsert(db[OUTCOMES], event.notification_id, _order(event), fields)


async def apply_quality_event(db: AsyncDatabase, event: QualityBudgetWarning | QualityBudgetExceeded) -> bool:
    """`line_quality`: what sla-watch last said of a line's year and measure (warning at 80 %, exceeded).
    Duplicate: as for notifications (an excess outranks any warning, then time and id)."""
    doc_id = f"{event.service_line_id}|{event.year}|{event.measure}"
    state = "exceeded" if isinstance(event, QualityBudgetExceeded) else "warning"
    fields = {
        "service_line_id": event.service_line_id, "year": event.year, "measure": str(event.measure),
        "used": event.used, "budget": event.budget, "state": state, "at": event.occurred_at,
    }  # fmt: skip
    return await _guarded_upsert(db[QUALITY], doc_id, f"{state == 'exceeded':d}|{_order(event)}", fields)


async def facts_of(db: AsyncDatabase, ticket_id: str) -> dict[str, Any] | None:
    return await db[FACTS].find_one({"_id": ticket_id}, {"log": 0, "applied": 0})


async def children_of(db: AsyncDatabase, incident_id: str) -> list[str]:
    found = db[FACTS].find({"parent_incident_id": incident_id}, {"_id": 1})
    return sorted([doc["_id"] async for doc in found])


async def notifications_of(db: AsyncDatabase, ticket_id: str) -> list[dict[str, Any]]:
    found = db[OUTCOMES].find({"ticket_id": ticket_id}, {"order": 0})
    return [doc async for doc in found]


async def follow_ups(db: AsyncDatabase, status: str) -> list[dict[str, Any]]:
    """Closed tickets by follow-up state (`owed`, `reminded`, `recorded`)."""
    projection = {"_id": 1, "closed_at": 1, "tier": 1, "city": 1, "customer_id": 1, "follow_up": 1}
    return [doc async for doc in db[FACTS].find({"follow_up.status": status}, projection)]


async def line_faults(db: AsyncDatabase, year: int) -> list[dict[str, Any]]:
    """Per line, its counted faults of the year and their outage seconds (from the facts)."""
    pipeline = [
        {"$match": {"quality_year": year}},
        {"$match": {"fault_counted": True}},
        {"$group": {
            "_id": "$service_line_id", "faults": {"$sum": 1}, "seconds": {"$sum": "$restore_net_seconds"},
            "level": {"$last": "$assurance_level"}, "customer_id": {"$last": "$customer_id"},
        }},
    ]  # fmt: skip
    return [row async for row in await db[FACTS].aggregate(pipeline)]


async def budget_events(db: AsyncDatabase, year: int) -> list[dict[str, Any]]:
    return [doc async for doc in db[QUALITY].find({"year": year}, {"order": 0})]


KEYS = {"tier": "$tier", "city": "$city", "team": "$by_team.team", "category": "$category", "level": "$assurance_level"}
PERIODS = ("day", "month", "quarter", "year")
SUMS = kpis.leaves(kpis.contributions({}))


async def kpi_groups(
    db: AsyncDatabase,
    *,
    start: datetime,
    end: datetime,
    group_by: list[str],
    period: str,
    filters: dict[str, str],
) -> dict[str, list[dict[str, Any]]]:
    """Summed KPI contributions and breach counts per group, and for everything matched (`all`).

    The first `$match` is the period's range on the `reported_at` index; the other filters follow in a second
    stage (SecantusDB plans a filter with more fields than one index holds as a scan). Grouped or filtered by team,
    the sums are of the teams' shares (`by_team`), so a ticket counts in each of its teams' groups with that team's
    clocks, and once in `all` unless a team is asked for."""
    keys = {k: (f"${period}" if k == "period" else KEYS[k]) for k in group_by}
    team = filters.get("team")
    narrow = {k: v for k, v in filters.items() if k != "team"} | ({"teams": team} if team else {})
    pipeline: list[dict[str, Any]] = [{"$match": {"reported_at": {"$gte": start, "$lt": end}}}]
    if narrow:
        pipeline.append({"$match": narrow})
    shares: list[dict[str, Any]] = [{"$unwind": "$by_team"}]
    if team:
        shares.append({"$match": {"by_team.team": team}})

    def facet(per_team: bool, group_keys: dict[str, str] | None) -> dict[str, list[dict[str, Any]]]:
        root = "$by_team." if per_team else "$"
        head = shares if per_team else []
        sums = {path.replace(".", "__"): {"$sum": f"{root}kpi.{path}"} for path in SUMS}
        cause = {"clock": f"{root}breaches.clock", "cause": f"{root}breaches.cause"}
        return {
            "groups": [*head, {"$group": {"_id": group_keys or None, **sums}}],
            "breaches": [*head, {"$unwind": f"{root}breaches"},
                         {"$group": {"_id": {**(group_keys or {}), **cause}, "n": {"$sum": 1}}}],
        }  # fmt: skip

    grouped = facet("team" in keys or bool(team), keys)
    overall = facet(bool(team), None)
    pipeline.append({"$facet": {
        "groups": grouped["groups"], "breaches": grouped["breaches"],
        "all": overall["groups"], "all_breaches": overall["breaches"],
    }})  # fmt: skip
    rows = [row async for row in await db[FACTS].aggregate(pipeline)]
    return rows[0] if rows else {"groups": [], "all": [], "breaches": [], "all_breaches": []}


def unflatten(row: dict[str, Any]) -> dict[str, Any]:
    """A `$group` row's sums back into a contribution's shape."""
    out: dict[str, Any] = {}
    for alias, value in row.items():
        if alias == "_id":
            continue
        *parents, leaf = alias.split("__")
        node = out
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return out


async def _count_by(collection: AsyncCollection, field: str) -> dict[str, int]:
    # A whole-collection $group: the placeholder summary only (CRM counts of the first dashboard).
    pipeline = [{"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
    return {str(row["_id"]): row["n"] async for row in await collection.aggregate(pipeline)}


async def crm_summary(db: AsyncDatabase) -> dict[str, dict[str, int]]:
    """Customers per tier and service lines per category in reporting's CRM replica."""
    return {
        "customers_by_tier": await _count_by(db.customers, "tier"),
        "service_lines_by_category": await _count_by(db.service_lines, "category"),
    }
