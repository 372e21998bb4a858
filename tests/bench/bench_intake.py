"""intake benchmark, against the service running as its own process (real HTTP, real Kafka, real database):

1. accepted reports/s end to end — HTTP POST until the report's TicketOpened is on Kafka — with p50/p99 latency,
   as a ratio to the raw Kafka produce limit and the raw database insert limits measured first by `make bench`:
   one report per request (16 clients), then the same count as JSON arrays of 50 (4 clients, the batch path);
2. a storm: ALARMS monitoring alarms (a fibre cut: many alarms on a few hundred lines of two cities) plus CALLS
   hotline calls (one HTTP request each, 8 clients), sent within 60 s — incidents opened, reports lost (must be 0),
   time to drain.

Prints figures, ratios to the raw limits, the goals (issue 10: ≥ 500 reports/s with p99 ≤ 250 ms; the storm of
20,000 alarms + 2,000 calls drained within 60 s, 0 lost) and where the CPU went (intake, database, Kafka, this
client) in each part; never asserts timings. BENCH_INTAKE_REPORTS / _ALARMS / _CALLS size the runs (defaults: the
issue's figures). BENCH_INTAKE_PROFILE=1 runs intake under pyinstrument and prints its time by package at the end
(the profiler slows intake down: take the figures from a run without it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from huying.events import AlarmRaised, TicketMessage
from huying.kafka import serialize
from tests.bench import limits
from tests.support.auth import TOKEN_SECRET
from tests.support.kafka import declare_topics

BOOTSTRAP = os.environ.get("HUYING_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO = os.environ.get("HUYING_MONGODB_URI", "mongodb://127.0.0.1:27017/")
REPORTS = int(os.environ.get("BENCH_INTAKE_REPORTS", "2000"))
ALARMS = int(os.environ.get("BENCH_INTAKE_ALARMS", "20000"))
CALLS = int(os.environ.get("BENCH_INTAKE_CALLS", "2000"))
PROFILE = os.environ.get("BENCH_INTAKE_PROFILE") == "1"
PROFILE_PATH = limits.LOCAL / "bench" / "intake.pstats"
CITIES = ["广州", "深圳"]
KEY = "bench-key"
log = logging.getLogger("bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cpu:
    """CPU seconds the processes of the run spent during a part (from /proc: user + system time)."""

    def __init__(self, service: int) -> None:
        self.pids = {"intake": service, "database": _pid_of("secantusd"), "kafka": _pid_of("kafka.Kafka")}
        self.pids["bench client"] = os.getpid()
        self._began = self._times()

    @staticmethod
    def _seconds(pid: int | None) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _times(self) -> dict[str, float]:
        return {name: self._seconds(pid) for name, pid in self.pids.items()}

    def part(self, wall: float) -> str:
        now = self._times()
        spent = {name: now[name] - self._began[name] for name in now}
        self._began = now
        parts = ", ".join(f"{name} {cpu:.1f}s ({cpu / wall:.0%})" for name, cpu in spent.items() if cpu == cpu)
        return f"  CPU over {wall:.1f}s wall (2 cores = 200%): {parts}"


def _pid_of(marker: str) -> int | None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    return int(entry)
            except OSError:
                continue
    return None


def goal(met: bool, text: str) -> str:
    return f"  goal {text}: {'met' if met else 'MISSED'}"


def start_service(prefix: str, database: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "HUYING_KAFKA_BOOTSTRAP": BOOTSTRAP,
        "HUYING_MONGODB_URI": MONGO,
        "HUYING_TOPIC_PREFIX": prefix,
        "HUYING_INTAKE_MONGODB_DATABASE": database,
        "HUYING_INTAKE_HTTP_PORT": str(port),
        "HUYING_INTAKE_API_KEYS": f'{{"bench": "{KEY}"}}',
        "HUYING_TOKEN_SECRET": TOKEN_SECRET,
        "HUYING_INTAKE_RATE_LIMIT_PER_SECOND": "100000",
        "HUYING_INTAKE_RATE_LIMIT_BURST": "100000",
        "HUYING_INTAKE_LOG_LEVEL": "WARNING",
    }
    if PROFILE:
        PROFILE_PATH.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pyinstrument", "-r", "pstats", "-o", str(PROFILE_PATH), "-m", "intake"]
    else:
        command = [sys.executable, "-m", "intake"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def print_profile() -> None:
    """intake's wall time by package (pyinstrument's samples, self time): where a report's time goes."""
    import pstats

    by_package: dict[str, float] = {}
    stats = pstats.Stats(str(PROFILE_PATH)).stats  # type: ignore[attr-defined]
    for (path, _, function), (_, _, self_time, _, _) in stats.items():
        by_package[_package(path, function)] = by_package.get(_package(path, function), 0.0) + self_time
    total = sum(by_package.values()) or 1.0
    print(f"profile of intake (pyinstrument, {total:.0f}s of samples, self time by package):")
    for name, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:14]:
        print(f"  {seconds / total:6.1%}  {name}")


def _package(path: str, function: str) -> str:
    if "selectors" in path or function.endswith(("poll", "select")):  # pyinstrument names it "epoll.poll"
        return "idle: waiting in the event loop (I/O, the database, Kafka)"
    for marker in ("site-packages/", "services/intake/", "shared/"):
        if marker in path:
            return path.split(marker, 1)[1].split("/", 1)[0]
    if "/lib/python" in path:
        return "stdlib: " + path.rsplit("/lib/python", 1)[1].split("/", 2)[1].removesuffix(".py")
    return path or function


async def wait_healthy(port: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    await asyncio.sleep(6)  # let the consumer group settle before measuring
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("intake did not become ready")


async def seed_crm(db, customers: int) -> list[tuple[str, str]]:
    """A CRM replica written straight into the database (as huying.crm_replica stores it): (line, city) pairs."""
    rng, lines, docs = random.Random(1), [], []
    for n in range(customers):
        city = CITIES[n % len(CITIES)]
        tier = rng.choices(["gold", "silver", "bronze", "standard"], [6, 16, 30, 48])[0]
        docs.append({"_id": f"C-{n}", "name": f"c{n}", "tier": tier, "city": city, "revision": 1})
        lines.append((f"L-{n}", city))
    await db.customers.insert_many(docs)
    await db.service_lines.insert_many(
        [
            {"_id": line, "customer_id": f"C-{n}", "category": "access", "scope": "intra_city", "cities": [city]}
            for n, (line, city) in enumerate(lines)
        ]
    )
    return lines


class Tickets:
    """Reads huying.tickets.v1 and notes when each report's first event arrived."""

    def __init__(self, topic: str) -> None:
        from pydantic import TypeAdapter

        self.topic, self.adapter, self.seen = topic, TypeAdapter(TicketMessage), {}
        self.types: dict[str, int] = {}

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        try:
            while True:
                for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                    now = time.perf_counter()
                    for record in records:
                        event = self.adapter.validate_json(record.value)
                        self.types[event.type] = self.types.get(event.type, 0) + 1
                        self.seen.setdefault(event.correlation_id, now)
        finally:
            await consumer.stop()


async def throughput(port: int, tickets: Tickets, cpu: Cpu, *, per_request: int = 1, clients: int = 16) -> None:
    """REPORTS reports from `clients` concurrent clients, `per_request` in each POST (1: one JSON object; more: a
    JSON array, intake's batch path), until each report's TicketOpened is on Kafka."""
    now = datetime.now(UTC)
    sent: dict[str, float] = {}
    tag = f"tp{per_request}"

    def body(n: int) -> dict:
        return {"channel": "web", "external_id": f"{tag}-{n}", "description": "x", "reported_at": now.isoformat()}

    async def post(client: httpx.AsyncClient, numbers: list[int]) -> None:
        for n in numbers:
            sent[f"bench:{tag}-{n}"] = time.perf_counter()
        payload = body(numbers[0]) if per_request == 1 else [body(n) for n in numbers]
        response = await client.post("/v1/reports", json=payload, headers={"X-API-Key": KEY})
        assert response.status_code == (201 if per_request == 1 else 200), response.text

    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        queue = iter(range(0, REPORTS, per_request))

        async def worker() -> None:
            for first in queue:
                await post(client, list(range(first, min(first + per_request, REPORTS))))

        await asyncio.gather(*(worker() for _ in range(clients)))
    while len([k for k in sent if k in tickets.seen]) < REPORTS:  # noqa: ASYNC110 - polling another task's dict
        await asyncio.sleep(0.05)
    elapsed = max(tickets.seen[k] for k in sent) - began
    latencies = sorted((tickets.seen[k] - t) * 1000 for k, t in sent.items())
    rate = REPORTS / elapsed
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    how = "one per request" if per_request == 1 else f"{per_request} per request (JSON array)"
    print(f"HTTP → TicketOpened on Kafka, {how}, {clients} clients:")
    print(f"  {REPORTS} reports in {elapsed:.1f}s = {rate:,.0f} reports/s")
    print(f"  latency p50 {statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms")
    print(f"  {limits.ratio(rate, 'kafka_produce_msgs_per_s')}")
    if per_request == 1:
        print(f"  {limits.ratio(rate * 3, 'db_single_insert_per_s')} (3 inserts per report: report, outbox, outcome)")
    print(f"  {limits.ratio(rate * 3, 'db_bulk_insert_per_s')} (the same inserts, as intake groups them)")
    print(cpu.part(elapsed))
    print(goal(rate >= 500 and p99 <= 250, "≥ 500 reports/s and p99 ≤ 250 ms"))


async def storm(port: int, db, prefix: str, tickets: Tickets, lines: list[tuple[str, str]], cpu: Cpu) -> None:
    rng, now = random.Random(2), datetime.now(UTC)
    cut = rng.sample(lines, min(400, len(lines)))  # the lines behind the cut fibre
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    began = time.perf_counter()
    try:
        alarms = []
        for n in range(ALARMS):
            line, city = rng.choice(cut)
            at = now + timedelta(seconds=60 * n / ALARMS)
            alarm = AlarmRaised(
                alarm_id=f"st-{n}",
                service_line_id=line,
                resource=f"OLT-{line}",
                city=city,
                severity=rng.choice(["critical", "major", "minor"]),
                raised_at=at,
            )
            alarms.append(await producer.send(f"{prefix}huying.alarms.v1", serialize(alarm), key=alarm.partition_key()))
        await asyncio.gather(*alarms)
        produced = time.perf_counter() - began
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            calls = iter(range(CALLS))

            async def caller() -> None:
                for n in calls:
                    line, _ = rng.choice(lines)
                    at = (now + timedelta(seconds=60 * n / CALLS)).isoformat()
                    body = {
                        "channel": "hotline",
                        "external_id": f"call-{n}",
                        "service_line_id": line,
                        "description": "断网",
                        "reported_at": at,
                    }
                    response = await client.post("/v1/reports", json=body, headers={"X-API-Key": KEY})
                    assert response.status_code == 201, response.text

            await asyncio.gather(*(caller() for _ in range(8)))
        calls_done = time.perf_counter() - began
    finally:
        await producer.stop()
    expected = ALARMS + CALLS + 2 * REPORTS
    while await db.outcomes.count_documents({}) < expected or await db.outbox.count_documents({}) > 0:
        if time.perf_counter() - began > 900:
            break
        await asyncio.sleep(1)
    drained = time.perf_counter() - began
    outcomes = await db.outcomes.count_documents({})
    by_status = {s: await db.outcomes.count_documents({"status": s}) for s in ("opened", "linked", "recorded")}
    incidents = await db.outcomes.count_documents({"incident_opened": {"$ne": None}})
    accounted = len([k for k in tickets.seen if k and (k.startswith("nms:st-") or k.startswith("bench:call-"))])
    print(f"storm: {ALARMS} alarms (on {len(cut)} lines, 2 cities) + {CALLS} hotline calls")
    print(f"  alarms produced in {produced:.1f}s, calls answered by {calls_done:.1f}s, drained after {drained:.1f}s")
    print(f"  outcomes {outcomes - 2 * REPORTS} of {ALARMS + CALLS}: {by_status} (incl. the {2 * REPORTS} before)")
    pending = ALARMS + CALLS - (outcomes - 2 * REPORTS)
    state = "reports lost: 0" if not pending else f"NOT DRAINED after 900 s: {pending} still queued"
    print(f"  incidents opened: {incidents}; {state}")
    print(f"  reports with an event on Kafka: {accounted} (the rest are recorded-only alarms: minor, no ticket)")
    print(f"  ticket events by type: {tickets.types}")
    print(f"  {limits.ratio((ALARMS + CALLS) / drained, 'db_bulk_insert_per_s')} (arrivals/s drained)")
    print(cpu.part(drained))
    print(goal(drained <= 60 and not pending, f"{ALARMS + CALLS:,} arrivals drained within 60 s, 0 lost"))


async def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    token = uuid.uuid4().hex[:8]
    prefix, database, port = f"bench{token}.", f"bench{token}_intake", free_port()
    await declare_topics(BOOTSTRAP, prefix)
    client: AsyncMongoClient = AsyncMongoClient(MONGO, tz_aware=True)
    db = client[database]
    lines = await seed_crm(db, 600)
    service = start_service(prefix, database, port)
    tickets = Tickets(f"{prefix}huying.tickets.v1")
    reader = asyncio.create_task(tickets.run())
    try:
        await wait_healthy(port)
        cpu = Cpu(service.pid)
        await throughput(port, tickets, cpu)
        await throughput(port, tickets, cpu, per_request=50, clients=4)
        await storm(port, db, prefix, tickets, lines, cpu)
    finally:
        reader.cancel()
        service.send_signal(signal.SIGINT if PROFILE else signal.SIGTERM)  # SIGINT: pyinstrument writes its profile
        service.wait(120)
        await client.drop_database(database)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
    if PROFILE and PROFILE_PATH.exists():
        print_profile()
