"""`make run`: start Kafka and the database (unless given), the five services as processes, load demo data,
print where to look and an operator token to look with, and on Ctrl-C stop everything it started.

It runs the services with HUYING_ENV=development (unless HUYING_ENV is set): without HUYING_TOKEN_SECRET they sign
and verify operator tokens with the public development secret, which is for a laptop only, and say so.

Standard library only; run it with the project's virtualenv Python so the services import.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = [
    ("intake", "intake"),
    ("dispatch", "dispatch"),
    ("sla-watch", "sla_watch"),
    ("notify", "notify"),
    ("reporting", "reporting"),
]
COLOURS = ["36", "33", "35", "32", "34"]
DASHBOARD = "reporting"
# --demo-sms: the loopback 云MAS gateway simulator (notify.channels.gateway_sim) and notify's SMS channel pointed at it
SMS_PORT_OFFSET = 9  # services take base+1 … base+5
SMS_ACCOUNT = ("呼应演示", "huying-demo", "demo-mas-secret")  # ecName, apId, secretKey: the simulator's only account


def env_key(service: str) -> str:
    return service.upper().replace("-", "_")


class Child:
    def __init__(
        self,
        name: str,
        module: str,
        port: int,
        colour: str,
        env: dict[str, str],
        logs: Path,
        command: list[str] | None = None,
    ) -> None:
        self.name, self.port, self.colour = name, port, colour
        self.log_path = logs / f"{name}.log"
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", module],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        tag = f"\033[{self.colour}m{self.name:>9} |\033[0m " if sys.stdout.isatty() else f"{self.name:>9} | "
        with self.log_path.open("ab") as log:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                log.write(line)
                log.flush()
                sys.stdout.write(tag + line.decode(errors="replace"))
                sys.stdout.flush()

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)


class Stopping(Exception):
    """Ctrl-C (or SIGTERM) arrived."""


class LocalInfrastructure:
    """The local Kafka and SecantusDB, unless HUYING_KAFKA_BOOTSTRAP and HUYING_MONGODB_URI point elsewhere; stops
    exactly what it started (what was already running before us stays running after us)."""

    def __init__(self) -> None:
        self.infra = None
        self.started: list[str] = []

    def start(self, stopping: list[int]) -> dict[str, str]:
        if os.environ.get("HUYING_KAFKA_BOOTSTRAP") and os.environ.get("HUYING_MONGODB_URI"):
            return {}
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import infra  # the local Kafka + SecantusDB scripts next to this file

        self.infra = infra
        try:
            infra.preflight()
            infra.fetch_all()
            for name, start in (("secantusdb", infra.start_secantus), ("kafka", infra.start_kafka)):
                if stopping:
                    raise Stopping
                if start():
                    self.started.append(name)
        except infra.InfraError as error:
            raise RuntimeError(str(error)) from error
        return infra.env()

    def stop(self) -> None:
        if not self.started:  # the given infrastructure (or nothing started yet): nothing of ours to stop
            return
        stops = {"secantusdb": self.infra.stop_secantus, "kafka": self.infra.stop_kafka}
        for name in reversed(self.started):
            stops[name]()
            print(f"stopped the local {name}.", flush=True)


def stop_children(children: list[Child], timeout: float = 15.0) -> None:
    for child in children:
        child.stop(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{child.name} did not stop in {timeout:.0f}s; killing it", flush=True)
            child.stop(signal.SIGKILL)
            child.proc.wait()


def wait_healthy(children: list[Child], timeout: float, stopping: list[int]) -> Child | None:
    """Wait until every child answers /healthz; return the first child that died, if any."""
    deadline = time.monotonic() + timeout
    pending = list(children)
    while pending and time.monotonic() < deadline:
        if stopping:
            raise Stopping
        for child in list(pending):
            if child.proc.poll() is not None:
                return child
            if child.healthy():
                pending.remove(child)
        time.sleep(0.3)
    if pending:
        raise TimeoutError(f"not healthy after {timeout:.0f}s: {', '.join(c.name for c in pending)}")
    return None


MINT = [sys.executable, "-m", "huying.token"]
DEMO_LOGIN = ("op-gz-01", "huying-demo")  # a user of services/reporting/reporting/config/users.yaml (demo only)
DEMO_OPERATOR = ["--sub", "sup-demo", "--role", "supervisor", "--team", "gd-duty-supervisors", "--name", "demo"]


def mode_line(env: dict[str, str]) -> str:
    if env.get("HUYING_ENV") != "development":
        return f"  mode        HUYING_ENV={env.get('HUYING_ENV', 'production')}: tokens signed with HUYING_TOKEN_SECRET"
    if env.get("HUYING_TOKEN_SECRET") or env.get("HUYING_TOKEN_SECRET_FILE"):
        return "  mode        DEVELOPMENT (HUYING_ENV=development), tokens signed with your HUYING_TOKEN_SECRET"
    return (
        "  mode        DEVELOPMENT (HUYING_ENV=development): operator tokens are signed with the PUBLIC development\n"
        "              secret, so anyone can mint one. For this laptop only; a deployment sets HUYING_TOKEN_SECRET."
    )


def operator_token(env: dict[str, str]) -> str:
    """A supervisor's token for the demo (reads every ticket, the timers and the KPIs), minted like any other."""
    done = subprocess.run([*MINT, *DEMO_OPERATOR], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"could not mint an operator token: {done.stderr.strip()}")
    return done.stdout.strip()


def demo_sms_channels(port: int) -> str:
    """HUYING_NOTIFY_CHANNELS for --demo-sms: SMS through the simulator (云MAS shape), the rest to the outbox."""
    ec_name, ap_id, secret = SMS_ACCOUNT
    url = f"http://127.0.0.1:{port}"
    sms = {
        "name": "sms-demo", "type": "sms-mas", "submit_url": f"{url}/sms/norsubmit", "query_url": f"{url}/sms/query",
        "ec_name": ec_name, "ap_id": ap_id, "secret_key": secret, "sign": "DEMO01",
    }  # fmt: skip
    return json.dumps([sms, {"name": "outbox", "type": "outbox"}], ensure_ascii=False)


def start_sms_gateway(port: int, env: dict[str, str], logs: Path, stopping: list[int]) -> Child:
    command = [sys.executable, "-m", "notify.channels.gateway_sim", "--port", str(port), "--mas", ":".join(SMS_ACCOUNT)]
    gateway = Child("sms-sim", "", port, "37", env, logs, command=command)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if stopping:
            raise Stopping
        if gateway.proc.poll() is not None:
            raise RuntimeError(f"the SMS gateway simulator exited with code {gateway.proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/state", timeout=1):
                return gateway
        except OSError:
            time.sleep(0.3)
    gateway.stop()
    raise TimeoutError(f"the SMS gateway simulator did not listen on {port} in 30s")


def banner(children: list[Child], logs: Path, env: dict[str, str], token: str, sms_gateway: Child | None = None) -> str:
    dashboard = next(c for c in children if c.name == DASHBOARD)
    notify = next(c for c in children if c.name == "notify")
    lines = ["", "Huying is running.", f"  dashboard   http://127.0.0.1:{dashboard.port}/"]
    lines += [
        f"  login       {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]} (agent, 广州专线维护); also tl-gz-01 (team lead),",
        "              sup-gd-01 (supervisor: confirm, close); same password, reporting/config/users.yaml",
    ]
    base = f"http://127.0.0.1:{dashboard.port}"
    lines += [
        f"  pages       {base}/ (queue)  /incidents  /breaches  /notifications  /kpis (team lead and up)",
        "  follow one  open a ticket from the queue: accept, record the contact, add progress, resolve (op-gz-01);",
        "              confirm and close (sup-gd-01); its clocks, history and notifications update on the page",
        "  exports     the KPI page's links (CSV, XLSX, quarterly report XLSX or PDF); by script, with the token:",
        f"              {base}/v1/kpis.xlsx  {base}/v1/reports/quarterly?year=2026&quarter=4&format=pdf",
    ]
    lines += [f"  {c.name:<11} http://127.0.0.1:{c.port}/docs   health {c.health_url}" for c in children]
    lines += [
        "  outbox      notify's notifications, newest first (receipts and dispatch SMS as tickets open, then warnings,",
        "              breaches and escalations as the demo's deadlines pass), with the token below:",
        f"              curl -H 'Authorization: Bearer <token>' 'http://127.0.0.1:{notify.port}/v1/notifications?limit=20'",
    ]
    if sms_gateway is not None:
        lines.append(
            f"  sms gateway http://127.0.0.1:{sms_gateway.port}/_sim/state  (--demo-sms: the loopback 云MAS simulator; "
            "what notify's SMS channel submitted)"
        )
    lines += [
        f"  kafka       {env['HUYING_KAFKA_BOOTSTRAP']}",
        f"  database    {env['HUYING_MONGODB_URI']}",
        f"  logs        {logs}/",
        mode_line(env),
        "  token       a supervisor's operator token for 12 h (every route but health and metrics wants one):",
        f"              {token}",
        f"              curl -H 'Authorization: Bearer <token>' http://127.0.0.1:{dashboard.port}/v1/summary",
        "              another operator's: HUYING_ENV=development .venv/bin/python -m huying.token \\",
        "                                    --sub op-gz-01 --role agent --team gz-access-ops",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("HUYING_PORT_BASE", "8100")),
        help="services listen on base+1 … base+5 (default 8100)",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load demo data (nor stream reports)")
    parser.add_argument("--no-stream", action="store_true", help="load the demo CRM but send no reports or alarms")
    parser.add_argument(
        "--demo-sms",
        action="store_true",
        default=os.environ.get("HUYING_DEMO_SMS", "") not in ("", "0"),
        help="start the loopback SMS gateway simulator on base+9 and send notify's SMS there (云MAS shape; "
        "HUYING_DEMO_SMS=1 make run); without it (or with HUYING_NOTIFY_CHANNELS set) notify records every "
        "notification in its outbox only",
    )
    parser.add_argument("--pid-file", type=Path, help="write the service pids here (one per line)")
    default_logs = Path(os.environ.get("HUYING_LOCAL_DIR", ROOT / ".local")) / "logs"
    parser.add_argument(
        "--log-dir", type=Path, default=default_logs, help="where each service's log file goes (default .local/logs)"
    )
    args = parser.parse_args()

    logs = args.log_dir
    logs.mkdir(parents=True, exist_ok=True)
    # A plain flag, not a threading.Event: Event.set() from a signal handler can deadlock on the lock that the
    # interrupted Event.wait() in the main thread holds.
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))

    local = LocalInfrastructure()
    children: list[Child] = []
    stream: Child | None = None
    sms_gateway: Child | None = None
    exit_code = 0
    try:
        env = {**os.environ, **local.start(stopping), "PYTHONUNBUFFERED": "1"}
        env.setdefault("HUYING_ENV", "development")  # the built-in development token secret, announced below
        if env["HUYING_ENV"] == "development":
            print("huying: HUYING_ENV=development (make run): not for production", flush=True)
        for i, (name, _) in enumerate(SERVICES, start=1):
            env.setdefault(f"HUYING_{env_key(name)}_HTTP_PORT", str(args.port_base + i))
        # the dashboard forwards operator actions to dispatch, wherever it listens this run
        env.setdefault("HUYING_REPORTING_DISPATCH_URL", f"http://127.0.0.1:{env['HUYING_DISPATCH_HTTP_PORT']}")
        env.setdefault("HUYING_REPORTING_SLA_WATCH_URL", f"http://127.0.0.1:{env['HUYING_SLA_WATCH_HTTP_PORT']}")
        env.setdefault("HUYING_REPORTING_NOTIFY_URL", f"http://127.0.0.1:{env['HUYING_NOTIFY_HTTP_PORT']}")
        # the broker creates no topic by itself: every declared topic, with its retention, before any service
        subprocess.run([sys.executable, "-m", "huying.topics", "apply"], env=env, check=True)
        if "HUYING_INTAKE_API_KEYS" not in env:  # the demo stream's keys, new each run
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from demo import intake_api_keys

            env["HUYING_DEMO_API_KEY"] = secrets.token_urlsafe(16)
            env["HUYING_INTAKE_API_KEYS"] = intake_api_keys(env["HUYING_DEMO_API_KEY"])
        if args.demo_sms and not (env.get("HUYING_NOTIFY_CHANNELS") or env.get("HUYING_NOTIFY_CHANNELS_FILE")):
            sms_gateway = start_sms_gateway(args.port_base + SMS_PORT_OFFSET, env, logs, stopping)
            env["HUYING_NOTIFY_CHANNELS"] = demo_sms_channels(sms_gateway.port)
        children = [
            Child(name, module, int(env[f"HUYING_{env_key(name)}_HTTP_PORT"]), COLOURS[i], env, logs)
            for i, (name, module) in enumerate(SERVICES)
        ]
        if args.pid_file:
            args.pid_file.write_text("".join(f"{c.proc.pid}\n" for c in children))
        dead = wait_healthy(children, timeout=90, stopping=stopping)
        if dead:
            raise RuntimeError(f"{dead.name} exited with code {dead.proc.returncode}; see {dead.log_path}")
        if not args.no_demo:
            demo = str(Path(__file__).with_name("demo.py"))
            subprocess.run([sys.executable, demo], env=env, check=True)
            if not args.no_stream:  # stopped with the services; its exit never stops the run
                stream = Child("demo", "", 0, "37", env, logs, command=[sys.executable, demo, "--stream"])
        token = operator_token(env)
        print(banner(children, logs, env, token, sms_gateway), flush=True)
        ready = {"ready": True, "ports": {c.name: c.port for c in children}, "token": token}
        if sms_gateway is not None:
            ready["sms_gateway"] = f"http://127.0.0.1:{sms_gateway.port}"
        print(json.dumps(ready), flush=True)
        while not stopping:
            dead = next((c for c in children if c.proc.poll() is not None), None)
            if dead:
                raise RuntimeError(f"{dead.name} exited with code {dead.proc.returncode}; see {dead.log_path}")
            time.sleep(0.5)
        raise Stopping
    except Stopping:
        print("\nstopping…", flush=True)
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as error:
        print(f"huying: {error}", file=sys.stderr, flush=True)
        exit_code = 1
    finally:
        stop_children([c for c in (stream, *children, sms_gateway) if c is not None])
        local.stop()
    print("all stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
