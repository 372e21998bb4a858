"""`kpi_rollups`: the KPI sums of `ticket_facts` per Shanghai day and per month, so `GET /v1/kpis` over a year reads
a dozen documents instead of a million facts (issue 14 item 6: p99 ≤ 500 ms over 1,000,000 facts). The rows and
the arithmetic are pure (reporting.domain.rollups); this module stores them and keeps them correct.

| collection | one document per | a duplicate is detected by |
|---|---|---|
| `kpi_rollups` | day `d:<day>`, month `m:<m>` | recomputed: rows of marker `n` never replace rows of a greater `n` |
| `kpi_dirty` | bucket | `$inc n` upserts: any number of them says the same, "recompute" |

Kept correct without transactions by **dirty markers** (`{_id: bucket, n, dirty}`):
- every write of a ticket's facts bumps the markers of its days (the old and the new one) **before and after** the
  write, and so does an event found already applied (a redelivery after a crash between the write and the second
  bump); rewriting a day's rows bumps its month's marker before and after, the same way;
- a query first recomputes the dirty buckets of its range (days, then months): it reads `n`, computes, stores the
  rows unless rows of a greater `n` are stored, and marks the bucket clean only if `n` is unchanged. So a clean
  bucket was computed after every write that bumped it: a write racing the recomputation (another replica, a crash
  and redelivery) bumps after itself and leaves it dirty;
- then it sums the rows of the range's whole months and days and adds the facts of its partial days
  (`store.kpi_groups_direct`): the direct aggregation's answer (sums of floats may differ in their last bit, as the
  order of addition does).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from reporting.domain import rollups as r
from reporting.domain.facts import SHANGHAI

ROLLUPS, DIRTY = "kpi_rollups", "kpi_dirty"
# What a day's rows read of its facts (not the log, the entries or the clocks).
ROW_FIELDS = {**{field: 1 for field in r.FINEST.values()}, "kpi": 1, "breaches": 1, "by_team": 1}
Compute = Callable[[str], Awaitable[tuple[r.Rows, dict[str, Any]]]]


def day_bucket(day: str) -> str:
    return f"d:{day}"


def month_bucket(month: str) -> str:
    return f"m:{month}"


async def touch(db: AsyncDatabase, buckets: Iterable[str]) -> None:
    """Mark buckets dirty (bump `n`): before and after every write of what they sum."""
    for bucket in sorted(set(buckets)):
        for _ in range(3):  # two first upserts at once: one inserts, the other's E11000 is retried as an update
            try:
                await db[DIRTY].update_one({"_id": bucket}, {"$inc": {"n": 1}, "$set": {"dirty": True}}, upsert=True)
                break
            except DuplicateKeyError:
                continue


async def touch_days(db: AsyncDatabase, days: Iterable[str | None]) -> None:
    await touch(db, [day_bucket(d) for d in days if d])


async def mark_unrolled_facts(db: AsyncDatabase, facts: str) -> None:
    """Facts written before the rollups existed (facts, but no marker at all): mark each of their days dirty once,
    at start-up, so the first query computes them."""
    if await db[DIRTY].estimated_document_count() or not await db[facts].estimated_document_count():
        return
    await touch_days(db, [d for d in await db[facts].distinct("day") if isinstance(d, str)])


async def day_rows(db: AsyncDatabase, facts: str, day: str, sums: list[str]) -> r.Rows:
    """A day's finest rows from its facts (the `reported_at` index; only the fields the rows read)."""
    start = datetime.fromisoformat(day).replace(tzinfo=SHANGHAI)
    end = r.next_midnight(start + timedelta(hours=1))
    pipeline = [{"$match": {"reported_at": {"$gte": start, "$lt": end}}}, {"$project": ROW_FIELDS}]
    return r.rows_of([doc async for doc in await db[facts].aggregate(pipeline)], sums)


def _packed(rows: r.Rows) -> dict[str, str]:
    return {part: json.dumps(rows.get(part, []), ensure_ascii=False, separators=(",", ":")) for part in r.PARTS}


def unpacked(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored bucket with its rows. Each part's rows are one JSON string in the document, because the database
    reads a document of thousands of small fields at a few MB/s, and one string of the same rows at once."""
    return {k: json.loads(v) if k in r.PARTS else v for k, v in doc.items()}


async def _store(db: AsyncDatabase, bucket: str, n: int, rows: r.Rows, extra: dict[str, Any]) -> None:
    # E11000: rows computed under a later marker are stored (the upsert's insert met them); they are the newer ones.
    with contextlib.suppress(DuplicateKeyError):
        await db[ROLLUPS].update_one(
            {"_id": bucket, "n": {"$lte": n}},
            {"$set": {**_packed(rows), **extra, "bucket": bucket, "n": n}},
            upsert=True,
        )


async def refresh(db: AsyncDatabase, markers: list[dict[str, Any]], compute: Compute) -> None:
    """Recompute each dirty bucket, store it, and mark it clean if nothing bumped it meanwhile."""
    for marker in markers:
        bucket, n = marker["_id"], marker["n"]
        rows, extra = await compute(bucket)
        await _store(db, bucket, n, rows, extra)
        await db[DIRTY].update_one({"_id": bucket, "n": n}, {"$set": {"dirty": False}})


async def _dirty(db: AsyncDatabase, low: str, high: str) -> list[dict[str, Any]]:
    found = db[DIRTY].find({"dirty": True}, {"n": 1})  # few: the buckets written since the last query
    return sorted([m async for m in found if low <= m["_id"] < high], key=lambda m: m["_id"])


def _whole(span: dict[str, Any]) -> tuple[datetime, datetime] | None:
    ranges = list(span["days"]) + ([span["months"]] if span["months"] else [])
    return (min(a for a, _ in ranges), max(b for _, b in ranges)) if ranges else None


async def refresh_range(db: AsyncDatabase, facts: str, sums: list[str], span: dict[str, Any]) -> int:
    """Bring the buckets a plan reads up to date: the dirty days of its whole days (those inside its whole months
    too), then its dirty months. Returns how many buckets were recomputed."""
    whole = _whole(span)
    if whole is None:
        return 0

    async def day(bucket: str) -> tuple[r.Rows, dict[str, Any]]:
        name = bucket[2:]
        await touch(db, [month_bucket(name[:7])])  # before the day's new rows, and after them (below)
        return await day_rows(db, facts, name, sums), {"level": "day", "day": name, "month": name[:7]}

    days = await _dirty(db, day_bucket(r.day_of(whole[0])), day_bucket(r.day_of(whole[1])))
    await refresh(db, days, day)
    await touch(db, [month_bucket(m["_id"][2:9]) for m in days])
    if not span["months"]:
        return len(days)

    async def month(bucket: str) -> tuple[r.Rows, dict[str, Any]]:
        name = bucket[2:]
        found = db[ROLLUPS].find({"month": name}, {**dict.fromkeys(r.PARTS, 1), "level": 1})  # its days, itself
        days = [unpacked(doc) async for doc in found if doc.get("level") == "day"]
        return r.merge(days), {"level": "month", "month": name}

    m0, m1 = span["months"]
    months = await _dirty(db, month_bucket(r.month_of(m0)), month_bucket(r.month_of(m1)))
    await refresh(db, months, month)
    return len(days) + len(months)


async def read_buckets(db: AsyncDatabase, span: dict[str, Any], parts: list[str]) -> list[dict[str, Any]]:
    """The stored buckets of a plan's whole days and whole months (the index on `bucket`), with these parts."""
    fields = {**dict.fromkeys(parts, 1), "day": 1, "month": 1}
    ranges = [(day_bucket(r.day_of(a)), day_bucket(r.day_of(b))) for a, b in span["days"]]
    if span["months"]:
        m0, m1 = span["months"]
        ranges.append((month_bucket(r.month_of(m0)), month_bucket(r.month_of(m1))))
    out = []
    for low, high in ranges:
        out += [unpacked(doc) async for doc in db[ROLLUPS].find({"bucket": {"$gte": low, "$lt": high}}, fields)]
    return out
