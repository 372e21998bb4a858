"""Benchmark of sla-watch's timers (the headline figure): one instance holding 100,000 open tickets (about
500,000 pending timers) over real Kafka and the real database.

Prints: lateness of fired events against their due times (p50/p99/max), memory per pending timer, CPU, the
lateness a 5-minute polling design would have had on the same timers, and the database cost measured apart
(firing's bulk writes, a takeover's load, a ticket event end to end, with `timers` holding every ticket).
Run: .venv/bin/python tests/bench/run.py sla_watch   (or directly, with PYTHONPATH=.)
Options by environment: BENCH_SLA_TICKETS (100000), BENCH_SLA_WINDOW_S (60), BENCH_SLA_IN_WINDOW (0.2).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import random
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from huying.events import Scope, TicketDispatched, TicketOpened, Tier
from sla_watch import store
from sla_watch.app import create
from sla_watch.domain import pending_timers, replay
from sla_watch.policy_loader import load_calendar, load_policy
from sla_watch.settings import SlaWatchSettings
from tests.bench import limits
from tests.bench.stats import pct
from tests.support.auth import TOKEN_SECRET
from tests.support.kafka import declare_topics

BOOTSTRAP = os.environ.get("HUYING_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO = os.environ.get("HUYING_MONGODB_URI", "mongodb://127.0.0.1:27017/")
TICKETS = int(os.environ.get("BENCH_SLA_TICKETS", "100000"))
WINDOW_S = float(os.environ.get("BENCH_SLA_WINDOW_S", "60"))
IN_WINDOW = float(os.environ.get("BENCH_SLA_IN_WINDOW", "0.2"))
POLL_S = 300.0
EVENT_SAMPLE = 200  # tickets opened and dispatched after the window, each event timed through the service
TIMER_TYPES = {"SlaWarning", "SlaBreached", "EscalationRaised", "ProgressUpdateDue"}
PARTITIONS = 3
TIERS = [Tier.GOLD] * 10 + [Tier.SILVER] * 20 + [Tier.BRONZE] * 30 + [Tier.STANDARD] * 40
SCOPES = [Scope.INTRA_CITY] * 70 + [Scope.INTER_CITY] * 20 + [Scope.INTER_PROVINCE] * 10
ROOT = Path(__file__).resolve().parents[2]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int | None = None) -> float:
    """User+system CPU seconds of a process (this one by default)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def infra_pids() -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "deploy/local/infra.py"), "status"], capture_output=True, text=True, check=False
    ).stdout
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+): ready .*?\(pid (\d+)\)", out, re.M)}


def generate(first: int, count: int, reported_for, base: datetime) -> tuple[list[dict], int]:
    """Timer documents of `count` open tickets opened at `base`, as the service stores them, built by the SLA
    engine itself; `reported_for(rng)` gives each ticket's tier and report time."""
    policy, calendar = load_policy(), load_calendar()
    rng, part = random.Random(first), DefaultPartitioner()
    docs, total = [], 0
    for n in range(first, first + count):
        tid = f"T-B-{n:07d}"
        tier, reported = reported_for(rng)
        opened = TicketOpened(
            ticket_id=tid,
            occurred_at=base,
            source_system="bench",
            external_id=tid,
            channel="hotline",
            tier=tier,
            scope=rng.choice(SCOPES),
            category="access",
            reported_at=reported,
        )
        timers = pending_timers(replay([opened], policy=policy, calendar=calendar), now=base)
        total += len(timers)
        partition = part(tid.encode(), list(range(PARTITIONS)), list(range(PARTITIONS)))
        docs.append({"_id": tid, **store.timers_document(partition, list(timers))})
    return docs, total


async def seed(db, docs: list[dict]) -> float:
    began = time.perf_counter()
    for i in range(0, len(docs), 2000):
        await db.timers.insert_many(docs[i : i + 2000], ordered=False)
    return time.perf_counter() - began


async def topics(prefix: str, *, delete: bool = False) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        names = [f"{prefix}huying.tickets.v1", f"{prefix}huying.sla.v1"]
        if delete:
            await admin.delete_topics(names)
        else:
            await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def read_fired(topic: str, expected: int) -> list[tuple[float, datetime, str]]:
    """(lateness seconds by the record's producer timestamp, due time, type) of every event on the topic."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    out: list[tuple[float, datetime, str]] = []
    try:
        idle = 0
        while idle < 3 and len(out) < expected * 2:
            batch = await consumer.getmany(timeout_ms=1000, max_records=20000)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for r in records:
                    body = json.loads(r.value)
                    due = datetime.fromisoformat(body["occurred_at"])
                    out.append((r.timestamp / 1000 - due.timestamp(), due, body["type"]))
    finally:
        await consumer.stop()
    return out


async def loop_lag(out: list[float]) -> None:
    """How late a 50 ms sleep wakes up: what blocks the event loop (and so the timers and the heartbeats)."""
    while True:
        began = time.perf_counter()
        await asyncio.sleep(0.05)
        out.append(time.perf_counter() - began - 0.05)


async def timed(label: str, costs: dict[str, list[float]], coro):
    began = time.perf_counter()
    result = await coro
    costs.setdefault(label, []).append(time.perf_counter() - began)
    return result


async def ticket_events(watch, costs: dict[str, list[float]]) -> None:
    """Open and dispatch EVENT_SAMPLE new tickets through the service's own handler, each event timed."""
    part, base = DefaultPartitioner(), datetime.now(UTC)
    for n in range(EVENT_SAMPLE):
        tid = f"T-E-{n:07d}"
        partition = part(tid.encode(), list(range(PARTITIONS)), list(range(PARTITIONS)))
        opened = TicketOpened(
            ticket_id=tid, occurred_at=base, source_system="bench", external_id=tid, channel="hotline",
            tier=Tier.GOLD, scope=Scope.INTRA_CITY, category="access", reported_at=base,
        )  # fmt: skip
        dispatched = TicketDispatched(ticket_id=tid, occurred_at=base, teams=["gz-access-ops"])
        for event in (opened, dispatched):
            await timed(event.type, costs, watch.on_ticket_event(event, partition=partition))


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    token = uuid.uuid4().hex[:8]
    prefix, database = f"bench{token}.", f"bench{token}_sla_watch"
    settings = SlaWatchSettings(
        kafka_bootstrap=BOOTSTRAP,
        mongodb_uri=MONGO,
        topic_prefix=prefix,
        mongodb_database=database,
        token_secret=SecretStr(TOKEN_SECRET),
    )
    client: AsyncMongoClient = AsyncMongoClient(MONGO, tz_aware=True)
    db = client[database]
    costs: dict[str, list[float]] = {}
    # Background: most tickets, reported in the 20 minutes before an opening 15 minutes from now, so none of
    # their timers (the first: gold progress, 24 min after the report) is due before the run ends.
    background_base = datetime.now(UTC) + timedelta(minutes=15)
    quiet = TICKETS - round(TICKETS * IN_WINDOW)

    def quiet_report(rng: random.Random) -> tuple[Tier, datetime]:
        return rng.choice(TIERS), background_base - timedelta(seconds=rng.uniform(0, 1200))

    t = time.perf_counter()
    docs, total = generate(0, quiet, quiet_report, background_base)
    gen_rate = quiet / (time.perf_counter() - t)
    seed_s = await seed(db, docs)
    seed_rate = quiet / seed_s
    del docs
    t = time.perf_counter()
    await db.timers.find({"partition": {"$in": list(range(PARTITIONS))}}, {"timers": 1}).to_list()
    scan_s = time.perf_counter() - t  # what a takeover's load reads, without decoding
    # The rest: bronze/standard tickets reported 120 minutes before an instant inside the measurement window,
    # so their director escalation falls due in it (nothing of theirs is due earlier). The window opens once
    # these are generated and seeded and everything is loaded, as estimated from the rates just measured.
    busy = TICKETS - quiet
    lead = busy / gen_rate + busy / seed_rate + 2 * scan_s * TICKETS / quiet + 20
    window_start = datetime.now(UTC) + timedelta(seconds=lead)

    def busy_report(rng: random.Random) -> tuple[Tier, datetime]:
        due = window_start + timedelta(seconds=rng.uniform(0, WINDOW_S))
        return rng.choice([Tier.BRONZE, Tier.STANDARD]), due - timedelta(minutes=120)

    docs, more = generate(quiet, busy, busy_report, datetime.now(UTC))
    seed_s += await seed(db, docs)
    total += more
    del docs
    gc.collect()
    print(
        f"generated: {TICKETS:,} tickets, {total:,} pending timers ({busy:,} tickets due in the {WINDOW_S:.0f}s "
        f"window), by the SLA engine at {gen_rate:,.0f} tickets/s"
    )
    print(
        f"db seed (insert_many, 2,000 per call): {TICKETS / seed_s:,.0f} tickets/s, {total / seed_s:,.0f} timers/s "
        f"({seed_s:.1f}s); {limits.ratio(TICKETS / seed_s, 'db_bulk_insert_per_s')}; reading {quiet:,} documents "
        f"by `timers.partition` {scan_s:.1f}s"
    )
    await topics(prefix)
    await declare_topics(BOOTSTRAP, prefix)  # the rest of the registry (and the retention it declares)

    record_fired = store.record_fired

    async def timed_record(*args, **kwargs):  # instrumentation only: the firing's database cost, measured apart
        return await timed("record_fired", costs, record_fired(*args, **kwargs))

    store.record_fired = timed_record
    lags: list[float] = []
    monitor = asyncio.create_task(loop_lag(lags))
    rss_before = rss_mib()
    app = create(settings)
    t = time.perf_counter()
    async with app.router.lifespan_context(app):
        watch = app.state.runtime.broker.context.get("sla_watch")
        while (watch.scheduler.loading or not watch.scheduler.owned) and time.perf_counter() - t < 240:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        load_s = time.perf_counter() - t
        gc.collect()
        held = watch.scheduler.pending
        rss_after = rss_mib()
        print(f"start + load of 3 partitions (one indexed query on `timers`): {load_s:.1f}s, {held:,} timers held")
        print(
            f"memory: RSS {rss_before:.0f} → {rss_after:.0f} MiB (app + timers): "
            f"{(rss_after - rss_before) * 1024 * 1024 / max(held, 1):.0f} bytes per pending timer"
        )
        if datetime.now(UTC) > window_start:
            print(
                f"WARNING: loading ended {(datetime.now(UTC) - window_start).total_seconds():.0f}s into the window "
                "(the machine is slower than the rates measured above); those timers fire late"
            )
        load_lag = max(lags, default=0.0)
        lags.clear()
        pids = infra_pids()
        cpu0, infra0, wall0 = cpu_seconds(), {k: cpu_seconds(p) for k, p in pids.items()}, time.perf_counter()
        end = window_start + timedelta(seconds=WINDOW_S + 3)
        await asyncio.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
        wall = time.perf_counter() - wall0
        cpu = cpu_seconds() - cpu0
        infra_cpu = {k: cpu_seconds(p) - infra0[k] for k, p in pids.items()}
        fired_count = watch.scheduler.fired_count
        monitor.cancel()
        await timed("fired_ids", costs, store.fired_ids(db, f"T-B-{TICKETS - 1:07d}"))
        await timed("save_timers", costs, store.save_timers(db, f"T-B-{TICKETS - 1:07d}", 0, []))
        await ticket_events(watch, costs)
    store.record_fired = record_fired

    # One poll query ("which timers are due?") on every ticket's timers, as a poller would have it: indexed.
    t = time.perf_counter()
    await db.timers.create_index("next_due")
    costs["poll_index"] = [time.perf_counter() - t]
    due_now = await timed("find_due_poll", costs, db.timers.find({"next_due": {"$lte": datetime.now(UTC)}}).to_list())
    events = [e for e in await read_fired(f"{prefix}huying.sla.v1", fired_count) if e[2] in TIMER_TYPES]
    lateness = [late for late, due, _ in events if due >= window_start - timedelta(seconds=1)]
    # A poller started at an unknown moment: its phase is uniform in [0, 5 min) for each timer, and every poll
    # first pays the query that finds the due timers (measured above).
    rng = random.Random(11)
    poll_cost = costs["find_due_poll"][0]
    polled = [rng.uniform(0, POLL_S) + poll_cost for _ in events]
    kinds = sorted({k for *_, k in events})
    print(
        f"fired in the window: {len(events):,} events ({', '.join(kinds)}), {fired_count:,} by the scheduler, "
        f"{len(events) / WINDOW_S:,.0f}/s"
    )
    print(
        f"lateness (Kafka record timestamp − due): p50 {pct(lateness, 50) * 1000:.0f} ms, "
        f"p99 {pct(lateness, 99) * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms; "
        f"within 1 s: {sum(x <= 1 for x in lateness) / len(lateness):.2%}; within 100 ms: "
        f"{sum(x <= 0.1 for x in lateness) / len(lateness):.2%}"
    )
    print(
        f"5-minute polling on the same timers (random phase, + one poll query {poll_cost:.2f}s for "
        f"{len(due_now):,} due documents, indexed): "
        f"p50 {pct(polled, 50):.0f} s, p99 {pct(polled, 99):.0f} s, max {max(polled):.0f} s "
        f"({pct(polled, 50) / max(pct(lateness, 50), 1e-3):,.0f}× the p50 above)"
    )
    print(
        f"cpu (sla-watch process, during the window): {cpu:.1f}s in {wall:.0f}s = {cpu / wall:.1%} of one core; "
        f"{cpu / max(fired_count, 1) * 1000:.2f} ms per fired timer (incl. publish)"
    )
    print(
        "cpu of shared infrastructure in the window (other engineers' work included): "
        + ", ".join(f"{k} {v:.1f}s" for k, v in infra_cpu.items())
    )
    print(
        f"event-loop lag (a 50 ms sleep's overshoot): max {load_lag * 1000:.0f} ms while loading, "
        f"p99 {pct(lags, 99) * 1000:.0f} ms / max {max(lags, default=0) * 1000:.0f} ms in the window"
    )
    rec = costs.get("record_fired", [])
    print(
        f"db cost, firing: {len(rec)} bulk writes of fired ids behind the firing loop (each: what passes fired since "
        f"the last write, one update by _id per ticket), "
        f"p50 {pct(rec, 50) * 1000:.1f} ms, p99 {pct(rec, 99) * 1000:.1f} ms, max {max(rec, default=0) * 1000:.0f} ms, "
        f"total {sum(rec):.1f}s"
    )
    print(
        f"db cost with {TICKETS:,} timers documents: fired ids of one ticket {costs['fired_ids'][0] * 1000:.1f} ms, "
        f"save one ticket's timers {costs['save_timers'][0] * 1000:.1f} ms; index on next_due for the poller "
        f"{costs['poll_index'][0]:.1f}s"
    )
    for label in ("TicketOpened", "TicketDispatched"):
        spent = costs[label]
        print(
            f"a {label} through the service ({len(spent)} tickets; ledger read and version-checked write, fired "
            f"ids, timers write, outbox publish): p50 {pct(spent, 50) * 1000:.1f} ms, "
            f"p99 {pct(spent, 99) * 1000:.1f} ms"
        )
    print(f"raw Kafka produce for scale: {limits.ratio(len(events) / WINDOW_S, 'kafka_produce_msgs_per_s')}")
    await client.drop_database(database)
    await client.close()
    await topics(prefix, delete=True)


if __name__ == "__main__":
    asyncio.run(main())
