"""Local FerretDB v1 (SQLite backend), built from our wrapper module in deploy/local/ferretdb/."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import infra_common as c
import infra_wire

SRC = c.HERE / "ferretdb"
SOURCES = (SRC / "go.mod", SRC / "go.sum", SRC / "main.go")
NAME = "ferretdb"
BINARY_NAME = "ferretdb-huying"


def ferretdb_version() -> str:
    """The FerretDB module version required by deploy/local/ferretdb/go.mod."""
    match = re.search(r"github\.com/FerretDB/FerretDB (v\S+)", (SRC / "go.mod").read_text())
    if not match:
        raise c.InfraError(f"no FerretDB requirement in {SRC / 'go.mod'}")
    return match.group(1)


def binary(s: c.Settings | None = None) -> Path:
    return (s or c.settings()).local_dir / "bin" / BINARY_NAME


def log_file(s: c.Settings | None = None) -> Path:
    return (s or c.settings()).logs_dir / "ferretdb.log"


def data_dir(s: c.Settings | None = None) -> Path:
    return (s or c.settings()).state_dir / "ferretdb" / "data"


def go() -> str:
    fallbacks = [Path("/usr/local/go/bin/go")]
    if os.environ.get("GOROOT"):
        fallbacks.insert(0, Path(os.environ["GOROOT"]) / "bin" / "go")
    return c.find_tool("go", *fallbacks)


# ---------------------------------------------------------------- fetch


def _stamp(s: c.Settings) -> Path:
    return binary(s).with_name(BINARY_NAME + ".stamp")


def _is_built(s: c.Settings) -> bool:
    stamp = _stamp(s)
    return binary(s).exists() and stamp.exists() and stamp.read_text().strip() == c.files_digest(*SOURCES)


def fetch_ferretdb() -> bool:
    """Build the wrapper binary into the cache; False when it is already built from the current sources."""
    s = c.settings()
    if _is_built(s):
        return False
    with c.locked(s, "fetch-ferretdb"):
        if _is_built(s):
            return False
        out = binary(s)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(BINARY_NAME + ".tmp")
        env = {**os.environ, "CGO_ENABLED": "0"}
        c.run_checked(
            [go(), "build", "-trimpath", "-buildvcs=false", "-o", str(tmp), "."],
            "go build of deploy/local/ferretdb",
            cwd=SRC,
            env=env,
        )
        tmp.replace(out)
        _stamp(s).write_text(c.files_digest(*SOURCES) + "\n")
    return True


# ---------------------------------------------------------------- run


def ferretdb_ready(timeout: float = 2.0) -> bool:
    """True when a MongoDB `ping` over OP_MSG answers ok: 1."""
    try:
        return infra_wire.mongo_ping(c.HOST, c.settings().ferretdb_port, timeout)
    except Exception:  # refused, reset, timed out or garbled: all mean "not ready"
        return False


def ferretdb_pid() -> int | None:
    record = c.read_pid(c.settings(), NAME)
    return int(record["pid"]) if record else None


def _command(s: c.Settings) -> list[str]:
    log_level = os.environ.get("HUYING_FERRETDB_LOG_LEVEL", "warn")
    return [
        str(binary(s)),
        f"-listen-addr={c.HOST}:{s.ferretdb_port}",
        # WAL with synchronous=NORMAL: no fsync per commit (FerretDB's default FULL costs ~10 ms a write here);
        # a commit can be lost only on power failure, which local runs and tests can afford.
        f"-sqlite-url=file:{data_dir(s)}/?_pragma=synchronous(normal)",
        f"-log-level={log_level}",
    ]


def start_ferretdb(timeout: float = 30.0) -> bool:
    """Build if needed, start FerretDB detached and wait until ready; False if it was already running."""
    s = c.settings()
    fetch_ferretdb()
    with c.locked(s, NAME):
        if c.running_on(s, NAME, [s.ferretdb_port]):
            c.wait_ready(s, NAME, ferretdb_ready, timeout, log_file(s))
            return False
        c.require_free_ports(NAME, {"HUYING_FERRETDB_PORT": s.ferretdb_port})
        data_dir(s).mkdir(parents=True, exist_ok=True)
        c.spawn(s, NAME, _command(s), log_file(s), [s.ferretdb_port], cwd=data_dir(s).parent)
        c.wait_ready(s, NAME, ferretdb_ready, timeout, log_file(s))
    return True


def stop_ferretdb(timeout: float = 15.0) -> bool:
    """SIGTERM FerretDB's process group (SIGKILL after timeout); False if it was not running."""
    s = c.settings()
    with c.locked(s, NAME):
        return c.stop_process(s, NAME, timeout)


def reset_ferretdb_data() -> None:
    """Delete all databases; FerretDB must be stopped."""
    s = c.settings()
    if c.is_running(s, NAME):
        raise c.InfraError("ferretdb is running; stop it before resetting its data")
    shutil.rmtree(data_dir(s), ignore_errors=True)


def wait_ferretdb_ready(timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ferretdb_ready():
            return True
        time.sleep(0.25)
    return False
