"""reporting's database: the read models it owns, their indexes, and the queries the API answers.

| collection | one document per | a duplicate is detected by |
|---|---|---|
| `ticket_facts` | ticket (or incident) | its event id, recorded (`applied`) in the facts' version-checked write |
| `notification_outcomes` | notification | a deterministic upsert guarded by the event's order (not newer than itself) |
| `line_quality` | line × year × measure | a deterministic upsert guarded by the event's order (idem) |
| `customers`, `service_lines` | CRM record | the CRM replica's guarded upsert (`huying.crm_replica`) |
| `period_snapshots` | filed report version (period × version) | not a read model: written once, `_id` `<period>|v<n>` |
| `kpi_rollups` | Shanghai day or month | recomputed, not folded: rows of marker `n` never replace a greater `n`'s |
| `kpi_dirty` | rollup bucket | `$inc` upserts before and after each facts write and on a redelivery |

The rollups (reporting.rollups) and their markers are part of the events read model: a rebuild empties them
with the facts, and the replay's writes mark every day dirty again.

Concurrency rule: a ticket's facts are written by whichever replica holds the partition of the event (tickets or
sla topic), so every write is `{_id, version}`-checked and a loser re-reads and re-folds (sla-watch's ledger
rule); nothing else reads-then-writes (a rollup bucket is recomputed, reporting.rollups says how that stays
correct under the same races).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from huying.events import Event, NotificationFailed, NotificationSent, QualityBudgetExceeded, QualityBudgetWarning
from huying.rebuild import start_read_models
from huying.service import Runtime
from reporting import rollups
from reporting.domain import kpis
from reporting.domain import rollups as rollup_rows
from reporting.domain.entries import entry_of
from reporting.domain.facts import fold
from reporting.web import queue

FACTS, OUTCOMES, QUALITY = "ticket_facts", "notification_outcomes", "line_quality"
COLLECTIONS = (FACTS, OUTCOMES, QUALITY, rollups.ROLLUPS, rollups.DIRTY)
# The filed quarterly reports' data (reporting.exports.snapshots). Not a read model, so not in COLLECTIONS: a rebuild
# from the log must never drop what was filed.
SNAPSHOTS = "period_snapshots"


async def setup(runtime: Runtime) -> None:
    await create_indexes(runtime.db)
    await rollups.mark_unrolled_facts(runtime.db, FACTS)  # facts from before the rollups: their days computed once
    await start_read_models(runtime)  # the CRM replica and the event read models, replayed if the database is stale


async def create_indexes(db: AsyncDatabase) -> None:
    """Every hot query's index (created at start-up)."""
    await db.service_lines.create_index("customer_id")
    await db[FACTS].create_index("reported_at")  # every KPI query: the period's range
    await db[FACTS].create_index("quality_year")  # per-line quality of a year
    await db[FACTS].create_index("parent_incident_id")  # an incident's children
    await db[FACTS].create_index("follow_up.status")  # follow-ups owed or reminded
    await db[FACTS].create_index("next_deadline")  # the open queue (open_queue): the running clocks due first
    await db[FACTS].create_index([("queue_teams", 1), ("next_deadline", 1)])  # the open queue: a team's, by deadline
    await db[FACTS].create_index("status")  # the open queue: the open tickets without a running clock
    await db[OUTCOMES].create_index("ticket_id")  # a ticket's notifications
    await db[QUALITY].create_index("year")  # the budget events of a year
    await db[SNAPSHOTS].create_index([("period", 1), ("version", -1)], unique=True)  # a period's newest version
    await db[rollups.ROLLUPS].create_index("bucket")  # a KPI query's whole days and months
    await db[rollups.ROLLUPS].create_index("month")  # a month's days, summed into the month
    await db[rollups.DIRTY].create_index("dirty")  # the buckets to recompute


def document(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A ticket's facts document from its entries: the facts, its KPI contributions and its breaches."""
    facts = fold(entries)
    contribution, breaches = kpis.contributions(facts), kpis.breaches(facts)
    return {
        **facts, "kpi": contribution, "breaches": breaches, "by_team": kpis.by_team(facts),
        "next_deadline": queue.next_deadline(facts), "queue_teams": queue.queue_teams(facts),
    }  # fmt: skip


async def apply_ticket_event(db: AsyncDatabase, ticket_id: str, event: Event) -> bool:
    """Fold one event into its ticket's facts; False when the event was already applied (a redelivery).
    Duplicate: its event id is in `applied`, written in the same version-checked write as the facts."""
    entry, key = entry_of(event), str(event.event_id)
    # Lock-free: an attempt fails only because another event of the ticket was written meanwhile, so the loop ends
    # (after at most as many rounds as there are concurrent writers; normally two: the ticket and the SLA topic).
    while True:
        doc = await db[FACTS].find_one({"_id": ticket_id}, {"applied": 1, "log": 1, "version": 1, "day": 1})
        if doc is not None and key in doc.get("applied", []):
            # A redelivery, perhaps after a crash between the write and the rollup marker's second bump.
            await rollups.touch_days(db, [doc.get("day")])
            return False
        log = [*(doc or {}).get("log", []), entry]
        fields = {**document(log), "log": log, "ticket_id": ticket_id}
        days = [(doc or {}).get("day"), fields.get("day")]  # the rollup buckets it leaves and joins
        await rollups.touch_days(db, days)  # before the write, and again after it (reporting.rollups)
        if doc is None:
            try:
                await db[FACTS].insert_one({"_id": ticket_id, "version": 1, "applied": [key], **fields})
            except DuplicateKeyError:
                continue  # another replica wrote the first fact meanwhile: fold onto it
            await rollups.touch_days(db, days)
            return True
        done = await db[FACTS].update_one(
            {"_id": ticket_id, "version": doc["version"]},
            {"$set": {**fields, "version": doc["version"] + 1}, "$push": {"applied": key}},
        )
        if done.matched_count:
            await rollups.touch_days(db, days)
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


# What `reporting.web.queue.row` reads of a ticket's facts (not its log, contributions or shares).
# What queue.row and web.highlights read of a ticket's facts.
QUEUE_FIELDS = ("tier", "city", "teams", "status", "accepted_at", "category", "kind", "reported_at", "clocks",
                "next_deadline", "escalations", "suspensions", "outage_started_at")  # fmt: skip


def queue_filter(teams: list[str] | None, filters: dict[str, str]) -> dict[str, Any]:
    """The open tickets (`queue.OPEN`) of any of these teams (None: every team) that pass the queue's filters (team,
    tier, city, state as `queue.state_of` reads it), as a database filter."""
    query: dict[str, Any] = {"status": {"$in": list(queue.OPEN)}}
    every: list[dict[str, Any]] = []
    if teams is not None:
        every.append({"teams": {"$in": list(teams)}})
    if filters.get("team"):
        every.append({"teams": filters["team"]})
    for key in ("tier", "city"):
        if filters.get(key):
            query[key] = filters[key]
    state = filters.get("state")
    if state == "resolved":
        query["status"] = "resolved"
    elif state in ("accepted", "dispatched", "new"):
        query["status"] = "open"
        if state == "accepted":
            query["accepted_at"] = {"$ne": None}
        else:
            query["accepted_at"] = None
            query["teams.0"] = {"$exists": state == "dispatched"}
    elif state:
        query["status"] = {"$in": []}  # a state the queue never shows: nothing
    if every:
        query["$and"] = every
    return query


# The queue reads the running clocks in windows of deadlines: everything due within a minute of `now` (overdue
# included), then each next window twice as long (our choice: a page of the nearest deadlines is in the first few).
QUEUE_WINDOWS = 24  # the last ends 2^23 minutes (16 years) after now; one more without an end
EVER = datetime(1970, 1, 1, tzinfo=UTC)


async def open_queue(
    db: AsyncDatabase, *, teams: list[str] | None, limit: int, filters: dict[str, str], now: datetime | None = None
) -> list[dict[str, Any]]:
    """The open facts nearest to breach first (`next_deadline`, ties by ticket id), those without a running clock
    last (by id), at most `limit`, filtered in the database and projected to what `queue.row` reads.

    SecantusDB reads every document the index range of the first `$match` selects before it sorts and limits, so:
    a team's queue (`teams`, or a team filter) starts from the index of the open tickets' teams (`queue_teams`);
    every team's queue reads the running clocks in windows of deadlines after `now` (`next_deadline`), each
    window once, until the page is full — every later deadline is then later than all of its rows (without `now`,
    one window). Then, if the page is not full, the tickets without a running clock (MongoDB sorts a null before
    every date, so they are a query of their own), by id."""
    query, fields = queue_filter(teams, filters), dict.fromkeys(QUEUE_FIELDS, 1)
    if limit <= 0:
        return []

    async def read(first: dict[str, Any], order: dict[str, int], count: int, **more: Any) -> list[dict[str, Any]]:
        # One field in the first $match (its index), the rest after it: SecantusDB scans for a filter of more.
        stages = [{"$match": first}, {"$match": {**query, **more}}, {"$sort": order}, {"$limit": count},
                  {"$project": fields}]  # fmt: skip
        return [doc async for doc in await db[FACTS].aggregate(stages)]

    async def nearest(first: dict[str, Any]) -> list[dict[str, Any]]:
        """Up to `limit` running clocks of `first`'s index range, window after window of deadlines."""
        found: list[dict[str, Any]] = []
        low, bounds = EVER, [now + timedelta(minutes=2**i) for i in range(QUEUE_WINDOWS)] if now else []
        for high in [*bounds, None]:
            window = {"$gte": low} | ({"$lt": high} if high is not None else {})
            found += await read({**first, "next_deadline": window}, {"next_deadline": 1, "_id": 1}, limit - len(found))
            if len(found) >= limit:
                break
            low = high or low
        return found

    scoped = [filters["team"]] if filters.get("team") else teams
    if scoped is not None:  # per team (the index queue_teams × next_deadline), merged
        merged = {doc["_id"]: doc for team in scoped for doc in await nearest({"queue_teams": team})}
        out = sorted(merged.values(), key=lambda doc: (doc["next_deadline"], doc["_id"]))[:limit]
        rest = {"queue_teams": {"$in": list(scoped)}}
    else:
        out, rest = await nearest({}), {"status": query["status"]}
    if len(out) < limit:
        out += await read(rest, {"_id": 1}, limit - len(out), next_deadline=None)
    return out


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


def kpi_facet(*, per_team: bool, group_keys: dict[str, str] | None, team: str | None) -> dict[str, list[dict]]:
    """The `$facet` branches summing the contributions (`groups`) and counting the breaches (`breaches`) by
    `group_keys`: of the tickets, or of the teams' shares (`by_team`, only `team`'s when given)."""
    root = "$by_team." if per_team else "$"
    head: list[dict[str, Any]] = [{"$unwind": "$by_team"}] if per_team else []
    if per_team and team:
        head.append({"$match": {"by_team.team": team}})
    sums = {path.replace(".", "__"): {"$sum": f"{root}kpi.{path}"} for path in SUMS}
    cause = {"clock": f"{root}breaches.clock", "cause": f"{root}breaches.cause"}
    return {
        "groups": [*head, {"$group": {"_id": group_keys or None, **sums}}],
        "breaches": [*head, {"$unwind": f"{root}breaches"},
                     {"$group": {"_id": {**(group_keys or {}), **cause}, "n": {"$sum": 1}}}],
    }  # fmt: skip


KEYS = {"tier": "$tier", "city": "$city", "team": "$by_team.team", "category": "$category", "level": "$assurance_level"}
PERIODS = ("day", "month", "quarter", "year")
SUMS = kpis.leaves(kpis.contributions({}))


ALIASES = [path.replace(".", "__") for path in SUMS]  # a sum's name in a `$group` row


async def kpi_groups(
    db: AsyncDatabase,
    *,
    start: datetime,
    end: datetime,
    group_by: list[str],
    period: str,
    filters: dict[str, str],
) -> dict[str, list[dict[str, Any]]]:
    """`kpi_groups_direct`'s answer from the rollups (reporting.rollups): the dirty buckets of the range recomputed,
    its whole months and days summed from `kpi_rollups`, the facts of its partial days at the edges added."""
    span = rollup_rows.plan(start, end, by_day="period" in group_by and period == "day")
    await rollups.refresh_range(db, FACTS, ALIASES, span)
    buckets = await rollups.read_buckets(db, span, rollup_rows.parts_for(group_by, filters))
    found = rollup_rows.answer(buckets, group_by=group_by, period=period, filters=filters, sums=ALIASES)
    edges = [
        await kpi_groups_direct(db, start=a, end=b, group_by=group_by, period=period, filters=filters)
        for a, b in span["edges"]
    ]
    return rollup_rows.combine(found, *edges)


async def kpi_groups_direct(
    db: AsyncDatabase,
    *,
    start: datetime,
    end: datetime,
    group_by: list[str],
    period: str,
    filters: dict[str, str],
) -> dict[str, list[dict[str, Any]]]:
    """Summed KPI contributions and breach counts per group, and for everything matched (`all`), aggregated from
    the facts (what the rollups are checked against, and how they read the partial days of a range).

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
    grouped = kpi_facet(per_team="team" in keys or bool(team), group_keys=keys, team=team)
    overall = kpi_facet(per_team=bool(team), group_keys=None, team=team)
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
