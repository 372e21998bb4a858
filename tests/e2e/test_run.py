"""`make run` as a newcomer uses it: five services come up on real infrastructure with demo data, and Ctrl-C
stops every one of them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from huying.docs import SERVICES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def free_port_base() -> int:
    for base in range(21000, 40000, 10):
        if all(_free(base + i) for i in range(1, 6)):
            return base
    raise RuntimeError("no free ports")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def get_json(url: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
        return json.load(response)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_for_ready_line(proc: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith('{"ready": true'):
            return {**json.loads(line), "banner": "".join(seen)}
    raise AssertionError("runner never became ready:\n" + "".join(seen[-40:]))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def runner_env(infra, names, tmp_path) -> tuple[dict[str, str], list[int]]:
    """Environment for run.py. With the local processes, the runner starts a Kafka and a SecantusDB of its own (free
    ports, own state folder, the shared cache), exactly as `make run` does, and must stop them; otherwise it is
    pointed at the given infrastructure with this test's topic prefix and database names."""
    env = {
        **os.environ,
        "HUYING_PORT_BASE": str(free_port_base()),
        "HUYING_DEMO_CUSTOMERS": "40",
        "HUYING_DEMO_INTERVAL_SECONDS": "1",
    }
    env.pop("HUYING_INTAKE_API_KEYS", None)  # the runner makes the demo stream's keys
    if infra.kind == "local":
        infra_ports = [free_port() for _ in range(3)]
        env.pop("HUYING_KAFKA_BOOTSTRAP", None)
        env.pop("HUYING_MONGODB_URI", None)
        env.update(
            {
                "HUYING_INFRA_STATE_DIR": str(tmp_path / "infra"),
                "HUYING_KAFKA_PORT": str(infra_ports[0]),
                "HUYING_KAFKA_CONTROLLER_PORT": str(infra_ports[1]),
                "HUYING_MONGODB_PORT": str(infra_ports[2]),
            }
        )
        return env, infra_ports
    env.update(
        {
            "HUYING_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "HUYING_MONGODB_URI": infra.mongodb_uri,
            "HUYING_TOPIC_PREFIX": names.topic_prefix,
        }
    )
    for service in SERVICES:
        env[f"HUYING_{service.upper().replace('-', '_')}_MONGODB_DATABASE"] = names.database(service)
    return env, []


def test_run_starts_everything_with_demo_data_and_ctrl_c_stops_it_all(infra, names, tmp_path) -> None:
    env, infra_ports = runner_env(infra, names, tmp_path)
    pid_file = tmp_path / "pids"
    proc = subprocess.Popen(
        [sys.executable, "deploy/local/run.py", "--pid-file", str(pid_file), "--log-dir", str(tmp_path / "logs")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = wait_for_ready_line(proc, timeout=180)
        ports, token = ready["ports"], ready["token"]
        assert set(ports) == set(SERVICES)
        for service, port in ports.items():
            assert get_json(f"http://127.0.0.1:{port}/healthz") == {"status": "ok", "service": service}
        summary_url = f"http://127.0.0.1:{ports['reporting']}/v1/summary"
        assert status_of(summary_url) == 401  # development mode still wants a token; it is the secret that is known
        deadline = time.monotonic() + 60
        while sum(get_json(summary_url, token)["customers_by_tier"].values()) < 40 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert sum(get_json(summary_url, token)["customers_by_tier"].values()) == 40
        page = urllib.request.Request(
            f"http://127.0.0.1:{ports['reporting']}/", headers={"Cookie": f"huying_session={token}"}
        )
        with urllib.request.urlopen(page, timeout=5) as response:
            assert "Huying" in response.read().decode()
        timers = get_json(f"http://127.0.0.1:{ports['sla-watch']}/v1/timers", token)  # the token is a supervisor's
        assert "partitions" in timers
        # the demo stream sends reports and alarms, and intake handles them
        uri = f"mongodb://127.0.0.1:{infra_ports[2]}/" if infra_ports else infra.mongodb_uri
        database = "huying_intake" if infra_ports else names.database("intake")
        with MongoClient(uri) as client:
            deadline = time.monotonic() + 60
            while client[database].outcomes.count_documents({}) < 3 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert client[database].outcomes.count_documents({}) >= 3
        # notify records what the demo's tickets owe (receipts, dispatch SMS, then warnings and breaches) in its
        # outbox (the default channel), listed where the banner says, with the printed token
        assert f"http://127.0.0.1:{ports['notify']}/v1/notifications" in ready["banner"]
        notifications_url = f"http://127.0.0.1:{ports['notify']}/v1/notifications?state=sent&limit=5"
        assert status_of(notifications_url) == 401
        deadline = time.monotonic() + 90
        while not get_json(notifications_url, token)["notifications"] and time.monotonic() < deadline:
            time.sleep(0.5)
        listed = get_json(notifications_url, token)["notifications"]
        assert listed, "notify recorded no notification for the demo's tickets"
        assert all(n["channel_name"] == "outbox" and n["ticket_id"] and n["text"] for n in listed)
        follow_a_ticket_on_the_dashboard(ready["banner"], ports["reporting"])
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, output[-3000:]
    assert "all stopped." in output
    for service in SERVICES:  # development mode, as `make run` announces it, and each service warns of it
        assert "PUBLIC development secret" in (tmp_path / "logs" / f"{service}.log").read_text(), service
    assert "demo: " in output, "the demo stream printed nothing"
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == len(SERVICES)
    assert not [pid for pid in pids if alive(pid)]
    assert all(_free(port) for port in infra_ports), "the runner left Kafka or SecantusDB running"


DEMO_LOGIN = ("op-gz-01", "huying-demo")  # what the banner prints (services/reporting/reporting/config/users.yaml)


def poll(find, timeout: float) -> list[str]:
    """`find()`'s first non-empty answer within `timeout` seconds, else its last (empty) one."""
    deadline = time.monotonic() + timeout
    while not (found := find()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def follow_a_ticket_on_the_dashboard(banner: str, port: int) -> None:
    """What the banner tells a newcomer works: sign in with the printed demo login, see the demo's tickets in the
    queue, open one and see its clocks and the notifications it caused."""
    assert f"{DEMO_LOGIN[0]} / {DEMO_LOGIN[1]}" in banner and "sup-gd-01" in banner
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        signed_in = http.post("/login", data={"username": "sup-gd-01", "password": DEMO_LOGIN[1]})
        assert signed_in.status_code == 303 and http.cookies.get("huying_session"), signed_in.text[:300]
        tickets = poll(lambda: re.findall(r'<tr data-ticket="([^"]+)"', http.get("/").text), 60)
        assert tickets, "the demo's tickets never reached the dashboard's queue"
        page = http.get(f"/tickets/{tickets[0]}")
        assert page.status_code == 200 and 'data-clock="' in page.text, page.text[:300]
        fragment = f"/fragments/tickets/{tickets[0]}/notifications"
        assert poll(lambda: re.findall(r'data-notification="[^"]+"', http.get(fragment).text), 60), tickets[0]


@pytest.fixture(autouse=True)
def _drop_databases(infra, names):
    yield
    if infra.kind == "local":
        return  # the runner's own database was in tmp_path and is gone with it
    with MongoClient(infra.mongodb_uri) as client:
        for service in SERVICES:
            client.drop_database(names.database(service))
