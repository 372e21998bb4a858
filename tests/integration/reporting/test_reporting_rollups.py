"""The KPI rollups on the real database: `store.kpi_groups` (rollups, dirty buckets recomputed, partial days from the
facts) answers every grouping and filter as the direct aggregation over the facts (`kpi_groups_direct`), also after
facts change, under concurrent writers and queries, after a crash between a facts write and its marker's second
bump (the redelivery re-marks it), and a rebuild empties the rollups with the facts; no query scans."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from huying import rebuild
from huying.mongo import make_mongo_client
from huying.topics import Topics
from reporting import api, rollups, store
from reporting.domain.entries import entry_of
from reporting.domain.facts import SHANGHAI
from reporting.handlers import events_model
from reporting.settings import ReportingSettings
from tests.bench import reporting_data as data
from tests.support.plans import recording, scans, shapes
from tests.unit.reporting.builders import closed, opened, resolved
from tests.unit.reporting.test_reporting_rollups import _close

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 10, tzinfo=SHANGHAI)
KEYS = ("period", "tier", "city", "team", "category", "level")


@pytest.fixture
async def db(mongo, names):
    database = mongo[names.database("reporting")]
    await store.create_indexes(database)
    yield database
    await mongo.drop_database(database.name)


async def load(db, count: int, seed: int, days: int = 75) -> list[dict[str, Any]]:
    """`count` folded tickets over `days` from START, written with their days' markers bumped (as a write does)."""
    docs = [doc for batch in data.year_of_facts(random.Random(seed), count, start=START, days=days, pool=60)
            for doc in batch]  # fmt: skip
    await db.ticket_facts.insert_many(docs)
    await rollups.touch_days(db, {d["day"] for d in docs})
    return docs


def random_query(rng: random.Random) -> dict[str, Any]:
    bounds = sorted(START + timedelta(minutes=rng.uniform(-2 * 1440, 80 * 1440)) for _ in range(2))
    if rng.random() < 0.4:  # whole days, as the API reads a date
        bounds = [b.replace(hour=0, minute=0, second=0, microsecond=0) for b in bounds]
    if rng.random() < 0.15:
        bounds = [datetime(1970, 1, 1, tzinfo=SHANGHAI), datetime(9999, 1, 1, tzinfo=SHANGHAI)]  # the API's default
    filters = {}
    for key, values in (("tier", data.TIERS), ("city", data.CITIES[:3]), ("team", data.TEAMS[:3]),
                        ("category", ("access", "overlay"))):  # fmt: skip
        if rng.random() < 0.2:
            filters[key] = rng.choice(values)
    return {"start": bounds[0], "end": bounds[1], "group_by": rng.sample(KEYS, rng.randint(0, 3)),
            "period": rng.choice(store.PERIODS), "filters": filters}  # fmt: skip


async def same_answers(db, query: dict[str, Any]) -> None:
    via_rollups = api.kpi_response(await store.kpi_groups(db, **query), query["group_by"])
    direct = api.kpi_response(await store.kpi_groups_direct(db, **query), query["group_by"])
    assert _close(via_rollups, direct), query


async def test_the_rollups_answer_every_grouping_and_filter_as_the_facts_do(db) -> None:
    await load(db, 600, seed=3)
    rng = random.Random(14)
    for _ in range(40):
        await same_answers(db, random_query(rng))
    assert await db[rollups.DIRTY].count_documents({"dirty": True}) < 100  # the queries computed what they read
    assert await db[rollups.ROLLUPS].count_documents({"level": "month"}) >= 2


async def test_facts_that_change_are_recomputed_and_a_crash_between_write_and_marker_is_healed_by_the_redelivery(
    db,
) -> None:
    everything = {"start": START, "end": START + timedelta(days=60), "group_by": ["tier", "period"],
                  "period": "month", "filters": {}}  # fmt: skip
    await load(db, 200, seed=5, days=40)
    await same_answers(db, everything)
    dirty = [m["_id"] async for m in db[rollups.DIRTY].find({"dirty": True})]
    assert all(m.startswith("m:") and m[2:] not in ("2026-04",) for m in dirty)  # days done; months it read, too

    # New tickets through the real write path (markers bumped before and after each write).
    reported = (START + timedelta(days=3, hours=2) - opened("X").reported_at).total_seconds() / 60
    for i in range(5):
        for event in (opened(f"N-{i}", at=reported, tier="gold"), resolved(f"N-{i}", restored=reported + 30),
                      closed(f"N-{i}", at=reported + 60)):  # fmt: skip
            assert await store.apply_ticket_event(db, f"N-{i}", event)
    await same_answers(db, everything)

    # A crash after the facts write and before the marker's second bump, with a query cleaning the marker between
    # the first bump and the write: the rollups miss the write until the event is redelivered.
    event = resolved("N-9", restored=reported + 20)  # its restoration counts in the MTTR
    await store.apply_ticket_event(db, "N-9", opened("N-9", at=reported, tier="silver"))
    await same_answers(db, everything)
    doc = await db.ticket_facts.find_one({"_id": "N-9"})
    log = [*doc["log"], entry_of(event)]
    fields = {**store.document(log), "log": log, "version": doc["version"] + 1}
    await db.ticket_facts.update_one({"_id": "N-9"}, {"$set": fields, "$push": {"applied": str(event.event_id)}})
    stale = api.kpi_response(await store.kpi_groups(db, **everything), ["tier", "period"])
    direct = api.kpi_response(await store.kpi_groups_direct(db, **everything), ["tier", "period"])
    assert not _close(stale, direct)  # the lost bump shows: the write is not in the rollups
    assert not await store.apply_ticket_event(db, "N-9", event)  # the redelivery: already applied …
    await same_answers(db, everything)  # … but its day is marked again, and recomputed


async def test_concurrent_writers_and_queries_leave_rollups_equal_to_the_facts(db) -> None:
    await load(db, 150, seed=8, days=20)
    query = {"start": START, "end": START + timedelta(days=20), "group_by": ["team"], "period": "month",
             "filters": {}}  # fmt: skip
    await same_answers(db, query)
    reported = (START + timedelta(days=4, hours=5) - opened("X").reported_at).total_seconds() / 60
    events = [(f"C-{i}", e) for i in range(12) for e in (opened(f"C-{i}", at=reported + i, tier="bronze"),
              resolved(f"C-{i}", restored=reported + 40), closed(f"C-{i}", at=reported + 90))]  # fmt: skip
    writes = [store.apply_ticket_event(db, t, e) for t, e in events * 2]  # each event twice, at once
    reads = [store.kpi_groups(db, **query) for _ in range(6)]
    await asyncio.gather(*writes, *reads)
    await same_answers(db, query)
    await same_answers(db, {**query, "group_by": ["period", "tier"], "period": "day"})


async def test_no_rollup_query_scans_and_a_rebuild_empties_the_rollups(db, mongo, names, infra) -> None:
    await load(db, 80, seed=2, days=35)
    settings = ReportingSettings(mongodb_uri=infra.mongodb_uri, mongodb_database=db.name,
                                 topic_prefix=names.topic_prefix)  # fmt: skip
    with recording() as recorder:
        client = make_mongo_client(settings)
    try:
        watched = client[db.name]
        for period, group_by in (("month", ["tier"]), ("day", ["period"]), ("quarter", ["team", "period"])):
            await store.kpi_groups(watched, start=START - timedelta(hours=7), end=START + timedelta(days=34, hours=3),
                                   group_by=group_by, period=period, filters={"city": "广州"})  # fmt: skip
        await store.apply_ticket_event(watched, "R-1", opened("R-1"))
    finally:
        await client.close()
    assert await scans(mongo, recorder, database=db.name) == []
    covered = shapes(recorder, database=db.name)
    assert "kpi_rollups.find({bucket: {$gte: ·, $lt: ·}})" in covered and "kpi_dirty.find({dirty: ·})" in covered
    assert "ticket_facts.aggregate({reported_at: {$gte: ·, $lt: ·}})" in covered  # a day's rows, the partial days

    model = events_model(settings, Topics(names.topic_prefix))
    assert {rollups.ROLLUPS, rollups.DIRTY} <= set(model.collections)
    await rebuild.rebuild(db, model, now=START)
    assert await db[rollups.ROLLUPS].estimated_document_count() == 0
    assert await db[rollups.DIRTY].estimated_document_count() == 0
