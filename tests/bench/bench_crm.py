"""Benchmark of CRM replication: a backlog of CRM events (customers and their service lines, the demo CRM's shape)
on `huying.crm.v1`, then every service started as its own process (`python -m <service>`), each filling its own
replica from the backlog. Printed per service: events/s from its first applied record to its last, and from its
start; once each service alone, then all five at once (as `make run` and a province's first load).

Run: .venv/bin/python tests/bench/run.py crm   (options: --events N, default 20,000; --only intake,dispatch)
Prints figures and ratios to the raw limits measured in the same run; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from tests.bench import limits
from tests.support.auth import TOKEN_SECRET
from tests.support.kafka import declare_topics

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
from demo import demo_crm  # noqa: E402

from huying.kafka import event_headers, serialize  # noqa: E402

BOOTSTRAP = os.environ.get("HUYING_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO = os.environ.get("HUYING_MONGODB_URI", "mongodb://127.0.0.1:27017/")
SERVICES = {"intake": "intake", "dispatch": "dispatch", "sla-watch": "sla_watch", "notify": "notify",
            "reporting": "reporting"}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def key(service: str) -> str:
    return service.upper().replace("-", "_")


async def publish_backlog(topic: str, count: int) -> tuple[int, int, float]:
    events = []
    customers = count // 3
    while len(events) < count:
        events = demo_crm(customers=customers, seed=7)
        customers += max(1, (count - len(events)) // 3)
    events = events[:count]
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        began = time.perf_counter()
        futures = []
        for event in events:
            headers = [(k, v.encode()) for k, v in event_headers(event).items()]
            futures.append(await producer.send(topic, serialize(event), key=event.partition_key(), headers=headers))
        await asyncio.gather(*futures)
        took = time.perf_counter() - began
    finally:
        await producer.stop()
    n_customers = sum(1 for e in events if e.type == "CustomerUpserted")
    return n_customers, len(events) - n_customers, took


async def counts(client: AsyncMongoClient, database: str) -> int:
    db = client[database]
    return await db.customers.estimated_document_count() + await db.service_lines.estimated_document_count()


def start(module: str, env: dict[str, str]) -> subprocess.Popen:
    quiet = subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT, stdout=quiet, stderr=quiet)


async def replicate(services: list[str], prefix: str, token: str, total: int, client: AsyncMongoClient) -> dict:
    """Start the services as processes; wait until each replica holds every record; per service: timings."""
    env = {**os.environ, "HUYING_TOPIC_PREFIX": prefix, "PYTHONPATH": str(ROOT), "HUYING_TOKEN_SECRET": TOKEN_SECRET}
    databases = {}
    for service in services:
        databases[service] = f"bench{token}_{service.replace('-', '_')}_{len(services)}"
        env[f"HUYING_{key(service)}_MONGODB_DATABASE"] = databases[service]
        env[f"HUYING_{key(service)}_HTTP_PORT"] = str(free_port())
        env[f"HUYING_{key(service)}_LOG_LEVEL"] = "WARNING"
    began = time.perf_counter()
    procs = {s: start(SERVICES[s], env) for s in services}
    first: dict[str, float] = {}
    done: dict[str, float] = {}
    try:
        deadline = began + 900
        while len(done) < len(services) and time.perf_counter() < deadline:
            for service in services:
                if service in done:
                    continue
                if procs[service].poll() is not None:
                    raise RuntimeError(f"{service} exited with {procs[service].returncode}")
                n = await counts(client, databases[service])
                now = time.perf_counter()
                if n and service not in first:
                    first[service] = now
                if n >= total:
                    done[service] = now
            await asyncio.sleep(0.1)
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(30)
        for database in databases.values():
            await client.drop_database(database)
    return {
        s: {
            "from_start": done[s] - began,
            "from_first": done[s] - first[s],
            "rate": total / (done[s] - first[s]) if done[s] > first[s] else float("inf"),
        }
        for s in services
        if s in done
    }


async def profile(service: str, prefix: str, token: str, total: int, client: AsyncMongoClient) -> None:
    """The same replication in this process under pyinstrument: where one service's time goes."""
    import importlib

    from pyinstrument import Profiler

    module = SERVICES[service]
    app_module = importlib.import_module(f"{module}.app")
    settings_cls = app_module.SPEC.settings
    database = f"bench{token}_{module}_profile"
    settings = settings_cls(
        kafka_bootstrap=BOOTSTRAP,
        mongodb_uri=MONGO,
        topic_prefix=prefix,
        mongodb_database=database,
        log_level="WARNING",
        token_secret=SecretStr(TOKEN_SECRET),
    )
    app = app_module.create(settings)
    profiler = Profiler(async_mode="disabled")
    try:
        async with app.router.lifespan_context(app):
            profiler.start()
            while await counts(client, database) < total:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            profiler.stop()
    finally:
        await client.drop_database(database)
    print(f"\nprofile of {service} replicating {total:,} events in-process (wall time; top of the call tree):")
    print(profiler.output_text(unicode=True, color=False, show_all=False, time="percent_of_total")[:6000])


def report(label: str, results: dict, total: int) -> None:
    print(f"\n{label}:")
    for service, r in results.items():
        print(
            f"  {service:<10} {r['rate']:>8,.0f} events/s from its first record "
            f"({total:,} in {r['from_first']:.1f} s; {r['from_start']:.1f} s from process start)  "
            f"{limits.ratio(r['rate'], 'db_bulk_insert_per_s')}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--only", default=",".join(SERVICES))
    parser.add_argument("--profile", help="also profile this service replicating the backlog in-process")
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    services = [s for s in args.only.split(",") if s]
    client: AsyncMongoClient = AsyncMongoClient(MONGO)
    runs = [[service] for service in services] + ([services] if len(services) > 1 else [])
    try:
        for n, run in enumerate(runs):
            # a topic (and so consumer groups) of each run's own: every run replicates the whole backlog
            token = uuid.uuid4().hex[:8]
            prefix = f"bench{token}."
            await declare_topics(BOOTSTRAP, prefix)
            customers, lines, took = await publish_backlog(f"{prefix}huying.crm.v1", args.events)
            total = customers + lines
            if n == 0:
                print(f"backlog: {customers:,} customers + {lines:,} service lines = {total:,} events "
                      f"(produced in {took:.1f} s), replicated from a standing start")  # fmt: skip
            label = f"{run[0]} alone" if len(run) == 1 else "all five at once"
            report(label, await replicate(run, prefix, token, total, client), total)
        if args.profile:
            token = uuid.uuid4().hex[:8]
            prefix = f"bench{token}."
            await declare_topics(BOOTSTRAP, prefix)
            customers, lines, _ = await publish_backlog(f"{prefix}huying.crm.v1", args.events)
            await profile(args.profile, prefix, token, customers + lines, client)
    finally:
        await client.close()
    print("\ngoal: ≥ 1,000 events/s per service (issue 10)")


if __name__ == "__main__":
    asyncio.run(main())
