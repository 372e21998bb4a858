"""The open queue read in the database (`store.open_queue`) on the real SecantusDB: with more open tickets than a
page, the page is the ones nearest to breach (what `web.queue.queue` gives over every open ticket), filtered and
team-scoped in the database, tickets without a running clock last (although the database sorts a null first), and
no query scans."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from huying.mongo import make_mongo_client
from reporting import store
from reporting.settings import ReportingSettings
from reporting.web import queue as q
from tests.bench import reporting_data as data
from tests.support.plans import recording, scans, shapes
from tests.unit.reporting.builders import closed, opened, resolved, started

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
TEAMS = ["c00-access-ops", "c01-access-ops", "c02-access-ops"]
LIMIT = 120


def _at(when: datetime) -> float:
    return (when - opened("X").reported_at).total_seconds() / 60


def tickets(rng: random.Random) -> list[dict[str, Any]]:
    """Open tickets with running clocks (many due within hours, some overdue, some in days or years), open ones
    without a running clock, closed and resolved ones, on three teams."""
    docs = []
    for i in range(300):
        tid, team = f"T-O-{i:04d}", rng.choice(TEAMS)
        city = data.CITIES[TEAMS.index(team)]
        docs.append(data.document(data.open_ticket(rng, tid, now=NOW, city=city, tier=rng.choice(data.TIERS),
                                                   team=team), tid))  # fmt: skip
    for i, ahead in enumerate((-90, -5, 60 * 24 * 30, 60 * 24 * 365 * 3) * 5):  # overdue, in a month, in 3 years
        tid, t = f"T-F-{i:03d}", _at(NOW) - 10
        events = [opened(tid, at=t, tier="gold", city=data.CITIES[i % 3]),
                  started(tid, "restore", at=t, due=_at(NOW) + ahead)]  # fmt: skip
        docs.append(data.document(events, tid))
    for i in range(40):  # open, no clock yet
        tid = f"T-N-{i:03d}"
        docs.append(data.document([opened(tid, at=_at(NOW) - i, city=data.CITIES[i % 3])], tid))
    for i in range(40):  # resolved (still in the queue, its clocks ended) and closed (out of it)
        tid, t = f"T-C-{i:03d}", _at(NOW) - 300
        events = [opened(tid, at=t), started(tid, "restore", at=t, due=t + 600), resolved(tid, restored=t + 60)]
        if i % 2:
            events.append(closed(tid, at=t + 90))
        docs.append(data.document(events, tid))
    return docs


@pytest.fixture
async def db(mongo, names):
    database = mongo[names.database("reporting")]
    await store.create_indexes(database)
    rng = random.Random(7)
    await database.ticket_facts.insert_many(tickets(rng))
    yield database
    await mongo.drop_database(database.name)


async def expected(db, teams: list[str] | None, filters: dict[str, str], limit: int) -> list[str]:
    """The page as `web.queue` orders every open ticket this operator may read (read back from the database)."""
    every = [doc async for doc in db.ticket_facts.find({})]
    mine = [doc for doc in every if teams is None or set(teams) & set(doc.get("teams", []))]
    return [row["ticket_id"] for row in q.queue(mine, NOW, filters)][:limit]


async def page(db, teams: list[str] | None, filters: dict[str, str], limit: int = LIMIT, now=NOW) -> list[str]:
    found = await store.open_queue(db, teams=teams, limit=limit, filters=filters, now=now)
    return [row["ticket_id"] for row in q.queue(found, NOW, filters)]


@pytest.mark.parametrize(
    ("teams", "filters"),
    [
        (None, {}),
        (["c00-access-ops"], {}),
        (["c00-access-ops", "c02-access-ops"], {}),
        (None, {"team": "c01-access-ops"}),
        (["c00-access-ops", "c01-access-ops"], {"team": "c01-access-ops"}),
        (["c02-access-ops"], {"team": "c00-access-ops"}),  # another team's filter: nothing
        (None, {"tier": "gold"}),
        (None, {"city": data.CITIES[1], "state": "accepted"}),
        (None, {"state": "dispatched"}),
        (None, {"state": "new"}),
        (None, {"state": "resolved"}),
        (["c00-access-ops"], {"tier": "silver", "state": "dispatched"}),
    ],
)
async def test_the_page_is_the_open_tickets_nearest_to_breach_filtered_in_the_database(db, teams, filters) -> None:
    want = await expected(db, teams, filters, LIMIT)
    assert await page(db, teams, filters) == want
    assert await page(db, teams, filters, now=None) == want  # one window of every deadline: the same page


async def test_more_open_tickets_than_a_page_gives_the_nearest_ones_not_any(db) -> None:
    open_count = await db.ticket_facts.count_documents({"status": {"$in": list(q.OPEN)}})
    assert open_count > 3 * LIMIT
    got = await page(db, None, {})
    assert got == await expected(db, None, {}, LIMIT)
    rows = q.queue(await store.open_queue(db, teams=None, limit=LIMIT, filters={}, now=NOW), NOW, {})
    assert rows[0]["clock"]["remaining_seconds"] < 0  # overdue first
    assert all(r["clock"] for r in rows)  # a full page of running clocks: no ticket without one


async def test_tickets_without_a_running_clock_come_last_although_the_database_sorts_null_first(db) -> None:
    plain = [doc["_id"] async for doc in db.ticket_facts.find({"status": "open"}).sort("next_deadline", 1).limit(5)]
    assert all(doc_id.startswith("T-N-") for doc_id in plain)  # MongoDB's order: null before every date
    everything = await store.open_queue(db, teams=None, limit=10_000, filters={}, now=NOW)
    kinds = [doc["next_deadline"] is None for doc in everything]
    assert kinds == sorted(kinds) and sum(kinds) == 40 + 20  # the 40 without a clock and 20 resolved, at the end
    nulls = [doc["_id"] for doc in everything if doc["next_deadline"] is None]
    assert nulls == sorted(nulls)  # by ticket id
    dated = [doc["next_deadline"] for doc in everything if doc["next_deadline"] is not None]
    assert dated == sorted(dated) and dated[-1] > NOW + timedelta(days=365 * 2)  # even the one three years ahead
    assert [r["ticket_id"] for r in q.queue(everything, NOW, {})] == await expected(db, None, {}, 10_000)


async def test_no_queue_query_scans(db, mongo, names, infra) -> None:
    settings = ReportingSettings(mongodb_uri=infra.mongodb_uri, mongodb_database=db.name,
                                 topic_prefix=names.topic_prefix)  # fmt: skip
    with recording() as recorder:
        client = make_mongo_client(settings)
    try:
        watched = client[db.name]
        for teams, filters in ((None, {}), (["c00-access-ops"], {}), (None, {"team": "c01-access-ops"}),
                               (None, {"state": "new"})):  # fmt: skip
            await store.open_queue(watched, teams=teams, limit=10_000, filters=filters, now=NOW)
    finally:
        await client.close()
    assert await scans(mongo, recorder, database=db.name) == []
    covered = shapes(recorder, database=db.name)
    assert "ticket_facts.aggregate({next_deadline: {$gte: ·, $lt: ·}})" in covered
    assert "ticket_facts.aggregate({next_deadline: {$gte: ·}, queue_teams: ·})" in covered
