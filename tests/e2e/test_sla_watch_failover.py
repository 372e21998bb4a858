"""Two sla-watch replicas (processes) in one consumer group; one is killed (SIGKILL) mid-run.

What sla-watch guarantees, and this test checks exactly that:
- every deadline fires (each breach and escalation timer's event id reaches huying.sla.v1), each ticket's in
  due order, on time except those due while their partition had no live owner, which are marked late;
- nothing fires that should not, and an id appears twice on the topic only when the killed replica had
  published it and died before recording it (due within a few seconds before the kill). Those repeats carry the
  same event id, so a consumer that de-duplicates by event id (as every Huying consumer does) sees each once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner
from pydantic import SecretStr
from pymongo import MongoClient

from huying.events import TicketDispatched
from sla_watch.domain import TimerKind, pending_timers, replay
from sla_watch.policy_loader import load_calendar, load_policy
from sla_watch.settings import SlaWatchSettings
from tests.integration.sla_watch.support import FAST_POLICY, SlaTap, create_topics, now, opened, seconds
from tests.support.auth import SUPERVISOR, TOKEN_SECRET, bearer
from tests.support.kafka import produce

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TICKETS = 24
KILL_AT = 14.0  # seconds after t0: deadlines run from t0+8 to t0+30
DEADLINES = (TimerKind.BREACH, TimerKind.ESCALATION, TimerKind.LEADERSHIP_NOTICE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_replica(infra, names, tmp_path: Path, name: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "HUYING_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "HUYING_MONGODB_URI": infra.mongodb_uri,
        "HUYING_TOPIC_PREFIX": names.topic_prefix,
        "HUYING_SLA_WATCH_MONGODB_DATABASE": names.database("sla-watch"),
        "HUYING_SLA_WATCH_HTTP_PORT": str(port),
        "HUYING_SLA_WATCH_POLICY_OVERRIDE": str(FAST_POLICY),
        "HUYING_TOKEN_SECRET": TOKEN_SECRET,
    }
    log = (tmp_path / f"{name}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "sla_watch"], cwd=ROOT, env=env, stdout=log, stderr=log)
    return proc, port


def readiness(port: int) -> dict | None:
    """`/readyz` of a replica, 200 or 503 alike (its checks), or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)
    except OSError:
        return None


def timers_of(port: int) -> dict | None:
    """`/v1/timers` of a replica, asked as a supervisor (who may read them)."""
    settings = SlaWatchSettings(token_secret=SecretStr(TOKEN_SECRET))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/timers", headers=bearer(settings, SUPERVISOR, now=now())
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return json.load(response)
    except OSError:
        return None


async def until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout}s")


def split_between(ports: list[int]) -> dict[int, list[int]] | None:
    """Each replica's partitions, once the three are split between the two."""
    seen = {p: timers_of(p) or {} for p in ports}
    if any(s.get("loading", True) for s in seen.values()):
        return None
    owned = {p: s["partitions"] for p, s in seen.items()}
    flat = sorted(x for parts in owned.values() for x in parts)
    if flat != [0, 1, 2] or not all(owned.values()):
        return None
    ready = [readiness(p) or {} for p in ports]  # loaded, so each says partitions_loaded
    return owned if all(r.get("checks", {}).get("partitions_loaded") for r in ready) else None


async def test_killing_one_of_two_replicas_loses_no_deadline_and_repeats_none(infra, names, tmp_path) -> None:
    prefix = names.topic_prefix
    await create_topics(infra.kafka_bootstrap, f"{prefix}huying.tickets.v1", f"{prefix}huying.sla.v1")
    replicas = [start_replica(infra, names, tmp_path, n) for n in ("a", "b")]
    try:
        ports = [port for _, port in replicas]
        owned = await until(lambda: split_between(ports), 60, "both replicas owning partitions")
        victim_proc, victim_port = max(replicas, key=lambda r: len(owned[r[1]]))
        victim_partitions = set(owned[victim_port])

        async with SlaTap(infra.kafka_bootstrap, f"{prefix}huying.sla.v1") as tap:
            t0 = now()
            events = []
            for i in range(TICKETS):
                tid = f"T-F-{i:03d}"
                # acceptance due 10 s after dispatch, contact 15 s: spread from t0+8 to t0+28; progress at t0+30
                dispatched = TicketDispatched(ticket_id=tid, occurred_at=seconds(-2 + (i % 12) * 0.9, t0), teams=["x"])
                events.append([opened(tid, t0), dispatched])
            await produce(infra.kafka_bootstrap, f"{prefix}huying.tickets.v1", *[e for pair in events for e in pair])

            await asyncio.sleep(max(0.0, (seconds(KILL_AT, t0) - now()).total_seconds()))
            killed_at = now()
            victim_proc.send_signal(signal.SIGKILL)
            victim_proc.wait(timeout=10)

            expected = expected_timers(events, t0)
            deadline_ids = {str(t.timer_id) for t in expected.values() if t.kind in DEADLINES}
            await until(lambda: deadline_ids <= {s.event_id for s in tap.seen}, 60, "every deadline on the topic")
            await asyncio.sleep(1)
    finally:
        for proc, _ in replicas:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in replicas:
            proc.wait(timeout=30)

    timer_events = [s for s in tap.seen if s.type not in ("SlaClockStarted", "SlaDeadlineMoved", "SlaMet")]
    assert {s.event_id for s in timer_events} <= {str(i) for i in expected}, "fired something not due"
    for ticket in {s.body["ticket_id"] for s in timer_events}:
        fired = [s.occurred_at for s in timer_events if s.body["ticket_id"] == ticket]
        assert fired == sorted(fired), f"{ticket} fired out of due order"

    transition_ids = [s.event_id for s in tap.seen if s not in timer_events]
    assert len(transition_ids) == len(set(transition_ids)), "a clock change was published twice"
    repeated = {i: n for i, n in tap.duplicates().items() if i in expected}
    in_flight = {i for i in repeated if killed_at - timedelta(seconds=5) <= expected[i].due_at <= killed_at}
    assert set(repeated) == in_flight, f"repeated ids not in flight at the kill: {repeated}"

    orphaned = [s for s in timer_events if partition_of(s.body["ticket_id"]) in victim_partitions]
    takeover = min(s.received for s in orphaned if s.received > killed_at)
    assert any(killed_at < expected[s.event_id].due_at < takeover for s in orphaned), "no timer fell in the gap"
    for s in timer_events:
        due = expected[s.event_id].due_at
        if due < killed_at - timedelta(seconds=1) or due > takeover + timedelta(seconds=1):
            assert s.lateness < 5.0, (s.type, s.lateness)  # on time while someone owned the partition
        if s.received > due + timedelta(seconds=2):
            assert s.body["late_by_seconds"] is not None  # fired late → marked late
    print(
        f"\nfailover: {len(deadline_ids)} deadlines, {len(timer_events)} timer events, "
        f"{len(repeated)} repeated in flight, takeover after {(takeover - killed_at).total_seconds():.1f}s"
    )


def partition_of(ticket_id: str) -> int:
    """The ticket topic's partition of a ticket (the producer's default partitioner)."""
    return DefaultPartitioner()(ticket_id.encode(), [0, 1, 2], [0, 1, 2])


def expected_timers(events: list[list], t0) -> dict:
    """Every timer the tickets have up to t0+31 s, as the engine computes them (fast policy)."""
    policy, calendar = load_policy(override=FAST_POLICY), load_calendar()
    out = {}
    for pair in events:
        sla = replay(pair, policy=policy, calendar=calendar)
        for timer in pending_timers(sla, now=t0):
            if timer.due_at <= seconds(31, t0):
                out[str(timer.timer_id)] = timer
    return out


@pytest.fixture(autouse=True)
def _drop_database(infra, names):
    yield
    with MongoClient(infra.mongodb_uri) as client:
        client.drop_database(names.database("sla-watch"))
