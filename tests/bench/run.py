"""`make bench`: the machine's raw limits first, then every benchmark, each printing figures and ratios.

Benchmarks never assert timings (shared, noisy machines); they print what they measured. Infrastructure is
chosen as in the tests: HUYING_KAFKA_BOOTSTRAP / HUYING_MONGODB_URI if set, else the local processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def infrastructure_env() -> tuple[dict[str, str], list]:
    """The given infrastructure, or the local one: returns its env and how to stop what was started here."""
    if os.environ.get("HUYING_KAFKA_BOOTSTRAP") and os.environ.get("HUYING_MONGODB_URI"):
        return {}, []
    sys.path.insert(0, str(ROOT / "deploy" / "local"))
    import infra

    started = infra.start_all()  # what was already running before us stays running after us
    stop = {"kafka": infra.stop_kafka, "secantusdb": infra.stop_secantus}
    stops = [stop[name] for name, was_started in started.items() if was_started]
    return infra.env(), stops


def machine() -> str:
    """The facts a figure needs beside it: cores, memory, load, Python."""
    memory = next(
        line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (
        f"machine: {os.cpu_count()} cores, {int(memory) / 1024 / 1024:.0f} GiB, load {load}, "
        f"Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def main() -> int:
    only = sys.argv[1:]
    print(machine(), flush=True)
    env_extra, stops = infrastructure_env()
    env = {**os.environ, **env_extra, "PYTHONPATH": str(ROOT)}
    scripts = [
        HERE / "bench_raw_limits.py",
        *sorted(p for p in HERE.glob("bench_*.py") if p.name != "bench_raw_limits.py"),
    ]
    failed = 0
    try:
        for script in scripts:
            if only and not any(name in script.name for name in [*only, "raw_limits"]):
                continue
            print(f"\n=== {script.stem} ===", flush=True)
            began = time.monotonic()
            code = subprocess.call([sys.executable, str(script)], env=env, cwd=ROOT)
            print(f"--- {script.stem}: exit {code} in {time.monotonic() - began:.1f}s", flush=True)
            failed += code != 0
    finally:
        for stop in stops:
            stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
