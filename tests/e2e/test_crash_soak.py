"""Crash soak: under a steady stream of reports, each service in turn, then Kafka, then the database, is killed with
SIGKILL and started again. Afterwards the services' databases are reconciled against the topics:

- every report a source system got an answer for is exactly one outcome in intake and one ticket (the answer's);
- every ticket has exactly one `TicketOpened`, one dispatch record and one SLA ledger, and reached dispatch and
  sla-watch (nothing lost);
- no logical event was published twice under different ids (a redelivered or re-run step re-emits the same id);
- nothing that was not reported was opened.

The test runs its own Kafka and SecantusDB (free ports, a state folder in tmp_path) so that killing them disturbs no
other test. The stream paces itself (a source system sends at its own rate); every check polls with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from tests.e2e.test_run import free_port
from tests.integration.intake.conftest import read_all

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"intake": "intake", "dispatch": "dispatch", "sla-watch": "sla_watch", "notify": "notify"}
SERVICES["reporting"] = "reporting"
API_KEY = "soak-key-0123456789"
TOKEN_SECRET = "soak-token-secret-0123456789abcdef0123456789"
RATE = 8.0  # reports per second, a busy hotline
TICKETS_TOPIC = "huying.tickets.v1"


class Infra:
    """A private local Kafka and SecantusDB, controlled through deploy/local/infra.py like `make run` does."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.ports = {name: free_port() for name in ("kafka", "controller", "mongodb")}
        self.env = {
            **os.environ,
            "HUYING_INFRA_STATE_DIR": str(state),
            "HUYING_KAFKA_PORT": str(self.ports["kafka"]),
            "HUYING_KAFKA_CONTROLLER_PORT": str(self.ports["controller"]),
            "HUYING_MONGODB_PORT": str(self.ports["mongodb"]),
        }
        self.kafka_bootstrap = f"127.0.0.1:{self.ports['kafka']}"
        self.mongodb_uri = f"mongodb://127.0.0.1:{self.ports['mongodb']}/"

    def _infra(self, command: str) -> None:
        done = subprocess.run(
            [sys.executable, "deploy/local/infra.py", command],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    def start(self) -> None:
        self._infra("start")  # starts whichever is not running, waits until both answer
        done = subprocess.run(
            [sys.executable, "-m", "huying.topics", "apply", "--bootstrap", self.kafka_bootstrap, "--prefix", ""],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    def stop(self) -> None:
        self._infra("stop")

    def kill(self, name: str) -> None:
        """SIGKILL the process group, as a power cut would, and wait until it is gone."""
        record = json.loads((self.state / "run" / f"{name}.pid").read_text())
        os.killpg(record["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(record["pid"], 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError(f"{name} survived SIGKILL")


class Services:
    """The five services as processes on the private infrastructure."""

    def __init__(self, infra: Infra, logs: Path) -> None:
        self.infra, self.logs = infra, logs
        self.ports = {service: free_port() for service in SERVICES}
        self.procs: dict[str, subprocess.Popen] = {}

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "HUYING_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "HUYING_MONGODB_URI": self.infra.mongodb_uri,
            "HUYING_TOKEN_SECRET": TOKEN_SECRET,
            "HUYING_INTAKE_API_KEYS": json.dumps({"10086-cc": API_KEY}),
        }
        env.pop("HUYING_TOPIC_PREFIX", None)
        for service, port in self.ports.items():
            env[f"HUYING_{service.upper().replace('-', '_')}_HTTP_PORT"] = str(port)
        return env

    def start(self, service: str, *, wait: bool = True) -> None:
        log = (self.logs / f"{service}.log").open("ab")  # a file, not a pipe nobody reads
        self.procs[service] = subprocess.Popen(
            [sys.executable, "-m", SERVICES[service]],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_healthy(service)

    def wait_healthy(self, service: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.procs[service].poll() is None, f"{service} exited:\n{self.log_tail(service)}"
            try:
                if httpx.get(f"http://127.0.0.1:{self.ports[service]}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{service} not healthy after {timeout:.0f}s:\n{self.log_tail(service)}")

    def kill(self, service: str) -> None:
        proc = self.procs[service]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def log_tail(self, service: str) -> str:
        return (self.logs / f"{service}.log").read_text(errors="replace")[-3000:]


class Stream:
    """A source system sending reports at a steady rate, each retried (same external id) until it is answered —
    what a hotline system does when intake or its dependencies are away."""

    def __init__(self, url: str, clock_now: Callable[[], str]) -> None:
        self.url, self.clock_now = url, clock_now
        self.answered: dict[str, str] = {}  # external id → ticket id the answer named
        self.retries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=180)
        assert not self._thread.is_alive(), "the stream never got its last report answered"

    def _run(self) -> None:
        n = 0
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                n += 1
                started = time.monotonic()
                self._send(http, f"SOAK-{n:05d}")
                time.sleep(max(0.0, 1 / RATE - (time.monotonic() - started)))

    def _send(self, http: httpx.Client, external_id: str) -> None:
        body = {
            "external_id": external_id,
            "channel": "hotline",
            "reported_at": self.clock_now(),
            "description": "专线中断",
            "contact": {"name": "王伟", "phone": "13800138000"},
        }
        while True:  # answered, or retried: even after stop() the report in flight gets its answer
            try:
                response = http.post(self.url, json=body, headers={"X-API-Key": API_KEY})
                if response.status_code in (200, 201):
                    self.answered[external_id] = response.json()["ticket_id"]
                    return
                assert response.status_code >= 500 or response.status_code == 429, response.text
            except httpx.HTTPError:
                pass
            self.retries += 1
            time.sleep(0.2)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def logical_key(event: Any) -> tuple:
    """What one logical event is, whatever its id: who published what about which ticket, caused by what."""
    return (
        event.producer,
        event.ticket_id,
        event.type,
        event.causation_id,
        getattr(event, "external_id", None),
    )


def reconcile(infra: Infra, answered: dict[str, str]) -> list[str]:
    """Every way the databases and the ticket topic disagree with what the source system was told."""
    problems: list[str] = []
    events = asyncio.run(read_all(infra.kafka_bootstrap, TICKETS_TOPIC))
    ids_of: dict[tuple, set[str]] = defaultdict(set)
    for event in events:
        ids_of[logical_key(event)].add(str(event.event_id))
    problems += [f"published under {len(ids)} ids: {key}" for key, ids in ids_of.items() if len(ids) > 1]
    opened: dict[str, int] = defaultdict(int)
    for key in ids_of:
        if key[2] == "TicketOpened":
            opened[key[1]] += 1
    expected = set(answered.values())
    problems += [f"{t}: no TicketOpened" for t in sorted(expected - set(opened))]
    problems += [f"{t}: opened but never answered" for t in sorted(set(opened) - expected)]
    dispatched = {key[1] for key in ids_of if key[0] == "dispatch" and key[2] == "TicketDispatched"}
    problems += [f"{t}: never dispatched" for t in sorted(expected - dispatched)]
    with MongoClient(infra.mongodb_uri) as client:
        outcomes = {d["_id"]: d for d in client.huying_intake.outcomes.find({}, {"ticket_id": 1, "status": 1})}
        for external_id, ticket_id in answered.items():
            outcome = outcomes.get(f"10086-cc:{external_id}")
            if outcome is None or outcome.get("ticket_id") != ticket_id:
                problems.append(f"{external_id}: intake's outcome {outcome} is not the answer {ticket_id}")
        extra = set(outcomes) - {f"10086-cc:{e}" for e in answered}
        problems += [f"{key}: an outcome nobody was answered" for key in sorted(extra)]
        in_dispatch = set(client.huying_dispatch.tickets.distinct("_id"))
        problems += [f"{t}: not in dispatch's database" for t in sorted(expected - in_dispatch)]
        ledgers = {
            d["_id"] for d in client.huying_sla_watch.clocks.find({"_id": {"$in": sorted(expected)}}, {"_id": 1})
        }
        problems += [f"{t}: no SLA ledger" for t in sorted(expected - ledgers)]
    return problems


def phase(what: str, started: float = time.monotonic()) -> None:
    print(f"soak {time.monotonic() - started:6.1f}s {what}", flush=True)  # shown with -s, and on failure


# Its own Kafka and SecantusDB start (and restart) inside the test, and as the suite's first test it also waits for
# the shared infrastructure: pytest's 300 s default, which counts fixture setup, is too tight (one CI run hit it).
@pytest.mark.timeout(900)
def test_killing_each_service_kafka_and_the_database_loses_nothing_and_duplicates_nothing(infra, tmp_path) -> None:
    if infra.kind != "local":
        pytest.skip("kills the local Kafka and SecantusDB processes; runs with the project's local infrastructure")
    own = Infra(tmp_path / "infra")
    logs = tmp_path / "logs"
    logs.mkdir()
    own.start()
    phase("infrastructure up")
    services = Services(own, logs)
    try:
        for service in SERVICES:
            services.start(service, wait=False)
        for service in SERVICES:
            services.wait_healthy(service)
        stream = Stream(f"http://127.0.0.1:{services.ports['intake']}/v1/reports", now_iso)
        stream.start()
        phase("services up, stream started")
        try:
            time.sleep(3)  # the stream's pace, not a wait for a result: every check below polls
            for service in SERVICES:
                services.kill(service)
                services.start(service)
                phase(f"{service} killed and back")
                time.sleep(2)
            for part in ("kafka", "secantusdb"):
                own.kill(part)
                time.sleep(1)
                own.start()
                phase(f"{part} killed and back")
                time.sleep(3)
        finally:
            stream.stop()
        phase(f"stream stopped: {len(stream.answered)} answered, {stream.retries} retries")
        assert len(stream.answered) > 100, f"only {len(stream.answered)} reports were answered"
        deadline, problems = time.monotonic() + 180, ["not reconciled yet"]
        while problems and time.monotonic() < deadline:
            problems = reconcile(own, stream.answered)
            phase(f"reconciled: {len(problems)} problems")
            if problems:
                time.sleep(2)
        assert not problems, "\n".join(problems[:40]) + "".join(f"\n--- {s}\n{services.log_tail(s)}" for s in SERVICES)
    finally:
        services.stop_all()
        own.stop()
