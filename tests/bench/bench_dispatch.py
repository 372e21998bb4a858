"""Benchmark of dispatch with 10,000 open tickets already in its database: operator actions/s through the HTTP API
with p50/p99 latency (goal ≥ 200 actions/s, p99 ≤ 250 ms), and TicketOpened events/s through the consumer (routed,
dispatched, relayed), on real Kafka and the configured database. Figures are printed with their ratios to the raw
limits of the same run (tests/bench/limits.py); a missed goal prints a profile of where the time goes.

Run: .venv/bin/python tests/bench/run.py dispatch   (or this file alone after the raw limits were measured)
Options: --open N (tickets seeded, default 10000), --actions N (tickets acted on, 3 actions each, default 400),
--openings N (TicketOpened through Kafka, default 200), --concurrency N (HTTP clients, default 8), --profile.
Seeding builds each ticket with the domain code (routing, roster, least-loaded assignee) and inserts the store's
documents in bulk, as if their events had been published. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from dispatch import operations, store
from dispatch.app import create
from dispatch.domain import automatic
from dispatch.domain.routing import route
from dispatch.settings import DispatchSettings
from huying.events import TicketOpened
from huying.outbox import PENDING
from huying.token import mint
from tests.bench import limits
from tests.support.auth import TOKEN_SECRET
from tests.support.kafka import declare_topics, produce

BOOTSTRAP = os.environ.get("HUYING_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO = os.environ.get("HUYING_MONGODB_URI", "mongodb://127.0.0.1:27017/")
CITIES = ["广州", "深圳", "佛山", "东莞", "珠海", "汕头", "惠州", "中山", "江门", "湛江"]
TEAM = {"广州": "gz-access-ops", "深圳": "sz-access-ops", "佛山": "fs-access-ops", "东莞": "dg-access-ops",
        "珠海": "pw-access-ops", "中山": "pw-access-ops", "江门": "pw-access-ops", "惠州": "hz-access-ops",
        "汕头": "st-access-ops", "湛江": "zj-access-ops"}  # fmt: skip
GOAL_RATE, GOAL_P99_MS = 200.0, 250.0


def opened(n: int, token: str, now: datetime) -> TicketOpened:
    city = CITIES[n % len(CITIES)]
    return TicketOpened(
        ticket_id=f"B-{token}-{n:06d}", source_system="bench", external_id=f"{token}-{n}", channel="hotline",
        customer_id=f"C-{n % 2000:05d}", tier=["gold", "silver", "bronze", "standard"][n % 4], scope="intra_city",
        category="access", city=city, reported_at=now - timedelta(minutes=1), producer="bench",
        contact={"name": "王伟", "phone": "13800138000"},
    )  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ratio(value: float, name: str, raw: dict[str, float]) -> str:
    """A figure as a share of this run's raw limit (read once at start: other runs may rewrite the file)."""
    return f"{value / raw[name]:.1%} of raw {name} ({raw[name]:,.0f})" if raw.get(name) else "(no raw limit measured)"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def seed(runtime, events: list[TicketOpened]) -> float:
    """Open tickets as the consumer would decide them (routing, duty roster, least-loaded member), and insert the
    store's documents in bulk batches, already published. Returns documents/s."""
    config = operations.config_of(runtime)
    now = runtime.clock.now()
    loads: Counter[str] = Counter()
    began = time.perf_counter()
    batch: list[dict] = []
    for event in events:
        chosen = route(automatic.routing_input(event, []), config.rules)
        duty = {team: config.roster.on_duty(team, now) for team in chosen.teams}
        assignees = automatic.assignees_for(list(duty), duty, loads)
        decision = automatic.open_ticket(
            event, route=chosen, cities=[], assignees=assignees, now=now, policy=config.policy
        )
        loads.update(decision.ticket.open_assignees())
        document = store.new_document(decision, topic=runtime.topics.tickets.name, applied=str(event.event_id))
        document.pop("outbox", None)
        document[PENDING] = False
        batch.append(document)
        if len(batch) == 1000:
            await runtime.db.tickets.insert_many(batch, ordered=False)
            batch = []
    if batch:
        await runtime.db.tickets.insert_many(batch, ordered=False)
    return len(events) / (time.perf_counter() - began)


async def consumer_throughput(runtime, tickets: list[TicketOpened], before: int) -> float:
    began = time.perf_counter()
    await produce(BOOTSTRAP, runtime.topics.tickets.name, *tickets)
    # polling the database is the measurement: there is no in-process event to wait on
    while await runtime.db.tickets.count_documents({"_id": {"$in": [t.ticket_id for t in tickets]}}) < len(tickets):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    while await runtime.db.tickets.count_documents({PENDING: True}):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return len(tickets) / (time.perf_counter() - began)


async def http_actions(http: httpx.AsyncClient, settings, tickets: list[TicketOpened], concurrency: int) -> dict:
    """Accept, contact and note progress on every ticket, `concurrency` tickets at a time."""
    now = datetime.now(UTC)
    headers = {}
    for team in set(TEAM.values()):
        signed = mint(settings, sub=f"op-{team}", role="agent", teams=[team], now=now, ttl=timedelta(hours=1))
        headers[team] = {"Authorization": f"Bearer {signed}"}
    latencies: list[float] = []
    statuses: list[int] = []
    queue: asyncio.Queue[TicketOpened] = asyncio.Queue()
    for ticket in tickets:
        queue.put_nowait(ticket)
    actions = [
        ("accept", None),
        ("contact", {"contacted_at": now.isoformat(), "method": "phone"}),
        ("progress", {"note": "已定位故障点", "customer_informed": True}),
    ]

    async def worker() -> None:
        while not queue.empty():
            ticket = queue.get_nowait()
            for action, body in actions:
                began = time.perf_counter()
                response = await http.post(
                    f"/v1/tickets/{ticket.ticket_id}/{action}", json=body, headers=headers[TEAM[ticket.city]]
                )
                latencies.append(time.perf_counter() - began)
                statuses.append(response.status_code)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return {
        "actions_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "ok": statuses.count(200),
        "total": len(statuses),
    }


async def profiled(label: str, run) -> None:
    """Run once more under pyinstrument and print where the wall time goes (the top of the call tree)."""
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled", interval=0.002)
    profiler.start()
    await run()
    profiler.stop()
    print(f"\nprofile of {label} (wall time, this process; the database server is another process):")
    text = profiler.output_text(unicode=False, color=False, show_all=False, timeline=False)
    print("\n".join(line for line in text.splitlines()[:80] if line.strip()))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=10_000)
    parser.add_argument("--actions", type=int, default=400)
    parser.add_argument("--openings", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="profile both phases even if the goals are met")
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    token = uuid.uuid4().hex[:8]
    settings = DispatchSettings(
        kafka_bootstrap=BOOTSTRAP, mongodb_uri=MONGO, topic_prefix=f"bench{token}.",
        mongodb_database=f"bench{token}_dispatch", outbox_poll_seconds=0.2,
        token_secret=SecretStr(TOKEN_SECRET),
    )  # fmt: skip
    raw = limits.load() if limits.PATH.exists() else {}
    await declare_topics(BOOTSTRAP, settings.topic_prefix)
    app = create(settings)
    now = datetime.now(UTC)
    seeded = [opened(n, token, now) for n in range(args.open)]
    fresh = [opened(n, token, now) for n in range(args.open, args.open + args.openings)]
    try:
        async with app.router.lifespan_context(app):
            runtime = app.state.runtime
            rate = await seed(runtime, seeded)
            print(f"seeded {args.open:,} open tickets (domain-built, bulk insert): {rate:,.0f} tickets/s")
            print(f"  = {ratio(rate, 'db_bulk_insert_per_s', raw)}")
            began = time.perf_counter()
            counted = await store.recount_loads(runtime.db)  # as at start-up: the seeded work in the counters
            print(
                f"recounted {len(counted)} members' loads from the open tickets in {time.perf_counter() - began:.2f} s"
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as http:
                acted = seeded[: args.actions]
                result = await http_actions(http, settings, acted, args.concurrency)
                print(
                    f"http actions with {args.open:,} open tickets: {result['actions_per_s']:,.1f} actions/s, "
                    f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
                    f"({result['ok']}/{result['total']} ok, {args.concurrency} concurrent clients; "
                    f"goal ≥ {GOAL_RATE:.0f}/s, p99 ≤ {GOAL_P99_MS:.0f} ms) — load {load()}"
                )
                print(
                    f"  = {ratio(result['actions_per_s'], 'db_update_one_per_s', raw)} "
                    "(each action: 2 reads and 1 update by _id)"
                )
                missed = result["actions_per_s"] < GOAL_RATE or result["p99_ms"] > GOAL_P99_MS
                if missed or args.profile:
                    more = seeded[args.actions : args.actions + 100]
                    await profiled(
                        f"{len(more) * 3} more actions", lambda: http_actions(http, settings, more, args.concurrency)
                    )
            rate = await consumer_throughput(runtime, fresh, args.open)
            print(
                f"consumer: TicketOpened → routed, dispatched, published, with {args.open:,} open tickets: "
                f"{rate:,.1f} events/s ({args.openings} events) — load {load()}"
            )
            print(f"  = {ratio(rate, 'kafka_consume_msgs_per_s', raw)}; {ratio(rate, 'db_single_insert_per_s', raw)}")
            team = TEAM[CITIES[0]]
            members = [m for m in operations.config_of(runtime).roster.on_duty(team, runtime.clock.now())]
            began = time.perf_counter()
            counted = await store.loads(runtime.db, members)
            print(
                f"  one routing's per-assignee load ({team}, {sum(counted.values()):,} open work items of "
                f"{len(members)} members): {(time.perf_counter() - began) * 1000:.1f} ms"
            )
            if args.profile:
                extra = [
                    opened(n, token, now) for n in range(args.open + args.openings, args.open + args.openings + 50)
                ]
                await profiled("50 more openings", lambda: consumer_throughput(runtime, extra, args.open))
    finally:
        client: AsyncMongoClient = AsyncMongoClient(MONGO)
        await client.drop_database(settings.database_name)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
