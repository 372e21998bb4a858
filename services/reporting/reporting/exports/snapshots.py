"""Immutable period snapshots (`period_snapshots`): the first generation of a closed quarter's report stores its
data with a content hash; every later request renders from the stored data, so a filed report is regenerated
exactly; an admin's `refresh` stores a new version beside the old ones (never overwritten). The rule is
`quarterly.plan`; this module is its database edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from reporting import store
from reporting.exports import quarterly, queries


async def latest_version(db: AsyncDatabase, period: str) -> int | None:
    doc = await db[store.SNAPSHOTS].find_one({"period": period}, {"version": 1}, sort=[("version", -1)])
    return None if doc is None else doc["version"]


async def load(db: AsyncDatabase, period: str, version: int) -> dict[str, Any] | None:
    return await db[store.SNAPSHOTS].find_one({"_id": f"{period}|v{version}"})


async def report(db: AsyncDatabase, year: int, quarter: int, *, now: datetime, refresh: bool = False,
                 admin: bool = False, version: int | None = None, by: str = "") -> dict[str, Any]:  # fmt: skip
    """The snapshot document to render: {period, version (None when live), hash, data, created_by}.

    Two first requests at once both compute; the insert of `<period>|v1` lets one win and the other renders the
    winner's data (so every response of a version is the same report). A refresh racing another refresh likewise
    gets the version the other stored."""
    period = quarterly.period_key(year, quarter)
    latest = await latest_version(db, period)
    step = quarterly.plan(closed=quarterly.is_closed(year, quarter, now), latest=latest, refresh=refresh,
                          admin=admin, version=version)  # fmt: skip
    if step.decision == "use":
        doc = await load(db, period, step.version or 0)
        if doc is not None:
            return doc
    data = await queries.collect(db, year, quarter, now)
    doc = {"period": period, "version": step.version, "hash": quarterly.content_hash(data), "data": data,
           "created_by": by}  # fmt: skip
    if step.decision == "live":
        return doc
    try:
        await db[store.SNAPSHOTS].insert_one({"_id": f"{period}|v{step.version}", **doc})
    except DuplicateKeyError:  # another request stored this version first: render what it stored
        stored = await load(db, period, step.version or 0)
        if stored is not None:
            return stored
    return doc
