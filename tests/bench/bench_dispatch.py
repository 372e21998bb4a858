"""Benchmark of dispatch: events/s through the consumer (TicketOpened → routed, dispatched, outbox relayed) and
operator actions/s through the HTTP API with p50/p99 latency, on real Kafka and the configured database.

Run: .venv/bin/python tests/bench/run.py dispatch   (or this file alone after the raw limits were measured)
Options: --tickets N (default 120), --concurrency N (HTTP clients, default 8). Prints figures; asserts nothing.
FerretDB v1 scans a collection for every find (huying.mongo): per-action cost grows with the number of
tickets and revisions, so the HTTP figures are printed for two collection sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from dispatch.app import create
from dispatch.auth import mint
from dispatch.settings import DispatchSettings
from huying.events import TicketOpened
from tests.bench import limits
from tests.support.kafka import produce

BOOTSTRAP = os.environ.get("HUYING_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO = os.environ.get("HUYING_MONGODB_URI", "mongodb://127.0.0.1:27017/")
CITIES = ["广州", "深圳", "佛山", "东莞", "珠海", "汕头", "惠州", "中山", "江门", "湛江"]
TEAM = {"广州": "gz-access-ops", "深圳": "sz-access-ops", "佛山": "fs-access-ops", "东莞": "dg-access-ops",
        "珠海": "pw-access-ops", "中山": "pw-access-ops", "江门": "pw-access-ops", "惠州": "hz-access-ops",
        "汕头": "st-access-ops", "湛江": "zj-access-ops"}  # fmt: skip


def opened(n: int, token: str, now: datetime) -> TicketOpened:
    city = CITIES[n % len(CITIES)]
    return TicketOpened(
        ticket_id=f"B-{token}-{n:06d}", source_system="bench", external_id=f"{token}-{n}", channel="hotline",
        tier=["gold", "silver", "bronze", "standard"][n % 4], scope="intra_city", category="access", city=city,
        reported_at=now - timedelta(minutes=1), producer="bench",
        contact={"name": "王伟", "phone": "13800138000"},
    )  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def consumer_throughput(runtime, tickets: list[TicketOpened]) -> float:
    began = time.perf_counter()
    await produce(BOOTSTRAP, runtime.topics.tickets.name, *tickets)
    # polling the database is the measurement: there is no in-process event to wait on
    while await runtime.db.tickets.count_documents({}) < len(tickets):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    while await runtime.db.revisions.count_documents({"outbox_pending": True}):  # noqa: ASYNC110
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    token = uuid.uuid4().hex[:8]
    settings = DispatchSettings(
        kafka_bootstrap=BOOTSTRAP, mongodb_uri=MONGO, topic_prefix=f"bench{token}.",
        mongodb_database=f"bench{token}_dispatch", outbox_poll_seconds=0.2,
        token_secret=SecretStr("bench-secret-bench-secret-bench-secret"),
    )  # fmt: skip
    app = create(settings)
    try:
        async with app.router.lifespan_context(app):
            runtime = app.state.runtime
            now = datetime.now(UTC)
            half = args.tickets // 2
            first = [opened(n, token, now) for n in range(half)]
            second = [opened(n, token, now) for n in range(half, args.tickets)]
            rate = await consumer_throughput(runtime, first)
            print(f"consumer: TicketOpened → routed, dispatched, published: {rate:,.1f} events/s ({half} tickets)")
            print(f"  = {limits.ratio(rate, 'db_single_insert_per_s')}")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as http:
                small = await http_actions(http, settings, first, args.concurrency)
                print(
                    f"http actions at {half} tickets: {small['actions_per_s']:,.1f} actions/s, "
                    f"p50 {small['p50_ms']:.1f} ms, p99 {small['p99_ms']:.1f} ms "
                    f"({small['ok']}/{small['total']} ok, {args.concurrency} concurrent clients)"
                )
                rate = await consumer_throughput(runtime, second)
                print(f"consumer at {half}→{args.tickets} tickets: {rate:,.1f} events/s")
                large = await http_actions(http, settings, second, args.concurrency)
                revisions = await runtime.db.revisions.count_documents({})
                print(
                    f"http actions at {args.tickets} tickets / {revisions} revisions: "
                    f"{large['actions_per_s']:,.1f} actions/s, p50 {large['p50_ms']:.1f} ms, "
                    f"p99 {large['p99_ms']:.1f} ms ({large['ok']}/{large['total']} ok)"
                )
                print(f"  = {limits.ratio(large['actions_per_s'], 'db_single_insert_per_s')}")
    finally:
        client: AsyncMongoClient = AsyncMongoClient(MONGO)
        await client.drop_database(settings.database_name)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
