#!/usr/bin/env python3
"""Fetch, cache, start, stop and check Huying's local Kafka and SecantusDB (the MongoDB-protocol database).

    python3 deploy/local/infra.py fetch|start|stop|status|env

Also importable (put deploy/local on sys.path, then `import infra`): see
start_all(), stop_all(), status(), env() and the per-service functions
re-exported below. Standard library only. See deploy/local/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import infra_common
import infra_kafka
from infra_common import InfraError, Settings, settings
from infra_kafka import (
    fetch_kafka,
    jar_count,
    kafka_pid,
    kafka_ready,
    kafka_version,
    reset_kafka_data,
    start_kafka,
    stop_kafka,
    wait_kafka_ready,
)
from infra_secantus import (
    fetch_secantus,
    reset_secantus_data,
    secantus_pid,
    secantus_ready,
    secantus_version,
    start_secantus,
    stop_secantus,
    wait_secantus_ready,
)

__all__ = [
    "InfraError",
    "Settings",
    "env",
    "fetch_all",
    "fetch_kafka",
    "fetch_secantus",
    "infra_common",
    "jar_count",
    "kafka_pid",
    "kafka_ready",
    "kafka_version",
    "preflight",
    "reset_kafka_data",
    "reset_secantus_data",
    "secantus_pid",
    "secantus_ready",
    "secantus_version",
    "settings",
    "start_all",
    "start_kafka",
    "start_secantus",
    "status",
    "stop_all",
    "stop_kafka",
    "stop_secantus",
    "wait_kafka_ready",
    "wait_secantus_ready",
]


def fetch_all() -> dict[str, bool]:
    """Fetch the Kafka jars and check SecantusDB is installed; values say whether work was done."""
    return {"kafka": fetch_kafka(), "secantusdb": fetch_secantus()}


def preflight() -> None:
    """Fail before starting anything: java missing, or a needed port taken by a stranger."""
    s = settings()
    infra_kafka.java()
    if not infra_common.running_on(s, "kafka", [s.kafka_port, s.kafka_controller_port]):
        infra_common.require_free_ports(
            "kafka", {"HUYING_KAFKA_PORT": s.kafka_port, "HUYING_KAFKA_CONTROLLER_PORT": s.kafka_controller_port}
        )
    if not infra_common.running_on(s, "secantusdb", [s.mongodb_port]):
        infra_common.require_free_ports("secantusdb", {"HUYING_MONGODB_PORT": s.mongodb_port})


def start_all() -> dict[str, bool]:
    """Start both (fetching first); values are False for one that was already running."""
    fetch_all()
    preflight()
    return {"secantusdb": start_secantus(), "kafka": start_kafka()}


def stop_all() -> dict[str, bool]:
    """Stop both; values are False for one that was not running."""
    return {"kafka": stop_kafka(), "secantusdb": stop_secantus()}


def env() -> dict[str, str]:
    """Connection settings for the services and the tests."""
    s = settings()
    return {"HUYING_KAFKA_BOOTSTRAP": s.kafka_bootstrap, "HUYING_MONGODB_URI": s.mongodb_uri}


def status() -> dict[str, dict]:
    """{'kafka': {...}, 'secantusdb': {...}} with pid, ready and address of each."""
    s = settings()
    return {
        "kafka": {
            "pid": kafka_pid(),
            "ready": kafka_ready(),
            "address": s.kafka_bootstrap,
            "ports": [s.kafka_port, s.kafka_controller_port],
            "version": kafka_version(),
        },
        "secantusdb": {
            "pid": secantus_pid(),
            "ready": secantus_ready(),
            "address": s.mongodb_uri,
            "ports": [s.mongodb_port],
            "version": secantus_version(),
        },
    }


# ---------------------------------------------------------------- CLI


def _cmd_fetch(_: argparse.Namespace) -> int:
    t0 = time.monotonic()
    done = fetch_all()
    took = time.monotonic() - t0
    s = settings()
    kafka_note = "fetched" if done["kafka"] else "cached"
    print(f"kafka: {kafka_note} Kafka {kafka_version()} ({jar_count(s)} jars) in {s.local_dir} ({took:.1f}s)")
    print(f"secantusdb: SecantusDB {secantus_version()} installed in .venv")
    return 0


def _start_one(name: str, start, address: str) -> None:
    t0 = time.monotonic()
    started = start()
    took = time.monotonic() - t0
    if started:
        print(f"{name}: ready at {address} (started in {took:.1f}s)")
    else:
        print(f"{name}: already running at {address}")


def _cmd_start(_: argparse.Namespace) -> int:
    s = settings()
    t0 = time.monotonic()
    done = fetch_all()
    if any(done.values()):
        print(f"fetched/built in {time.monotonic() - t0:.1f}s: " + ", ".join(name for name, did in done.items() if did))
    preflight()
    _start_one("secantusdb", start_secantus, s.mongodb_uri)
    _start_one("kafka", start_kafka, s.kafka_bootstrap)
    return 0


def _cmd_stop(_: argparse.Namespace) -> int:
    for name, stop in (("kafka", stop_kafka), ("secantusdb", stop_secantus)):
        t0 = time.monotonic()
        was_running = stop()
        note = f"stopped in {time.monotonic() - t0:.1f}s" if was_running else "not running"
        print(f"{name}: {note}")
    return 0


def _cmd_status(_: argparse.Namespace) -> int:
    all_ready = True
    for name, st in status().items():
        all_ready &= st["ready"]
        if st["ready"]:
            owner = f"pid {st['pid']}" if st["pid"] else "NOT started by us"
            state = f"ready at {st['address']} ({owner})"
        elif st["pid"]:
            state = f"running (pid {st['pid']}) but NOT ready at {st['address']}"
        elif busy := [p for p in st["ports"] if not infra_common.port_free(p)]:
            state = f"stopped, but port(s) {busy} in use by another process"
        else:
            state = "stopped"
        print(f"{name}: {state} [{st['version']}]")
    return 0 if all_ready else 1


def _cmd_env(args: argparse.Namespace) -> int:
    prefix = "export " if args.export else ""
    for key, value in env().items():
        print(f"{prefix}{key}={value}")
    return 0


_COMMANDS = {"fetch": _cmd_fetch, "start": _cmd_start, "stop": _cmd_stop, "status": _cmd_status, "env": _cmd_env}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the Kafka jars into the cache; check SecantusDB is installed")
    sub.add_parser("start", help="fetch if needed, start both, wait until ready")
    sub.add_parser("stop", help="stop both (SIGTERM, then SIGKILL after a timeout)")
    sub.add_parser("status", help="print state; exit 0 only if both are ready")
    env_parser = sub.add_parser("env", help="print HUYING_KAFKA_BOOTSTRAP and HUYING_MONGODB_URI")
    env_parser.add_argument("--export", action="store_true", help="prefix lines with 'export '")
    args = parser.parse_args(argv)
    handler = _COMMANDS[args.command]
    try:
        return handler(args)
    except InfraError as err:
        print(f"infra: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
