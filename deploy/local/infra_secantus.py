"""Local SecantusDB: a single-node MongoDB wire-protocol server on WiredTiger, run as its own process.

It is installed into the project's virtualenv by `make install` (PyPI `secantusdb`, pinned in the root
pyproject's `localdb` dependency group, which no service image installs: it is GPL-2.0-only and beta). Nothing
is fetched or built here; `fetch_secantus()` only checks that the server's launcher is there.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import infra_common as c
import infra_wire

NAME = "secantusdb"
LAUNCHER = "secantusd-py"
PACKAGE = "secantusdb"


def launcher() -> Path:
    """The server's launcher: $HUYING_SECANTUSD, else the project virtualenv's."""
    explicit = os.environ.get("HUYING_SECANTUSD", "").strip()
    path = Path(explicit) if explicit else c.REPO_ROOT / ".venv" / "bin" / LAUNCHER
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise c.InfraError(f"{path} not found; run `make install` (it installs {PACKAGE} into .venv)")
    return path


def secantus_version() -> str:
    """The pinned version, read from the root pyproject (the lock installs exactly that)."""
    text = (c.REPO_ROOT / "pyproject.toml").read_text()
    for line in text.splitlines():
        line = line.strip().strip('",')
        if line.startswith(f"{PACKAGE}=="):
            return line.split("==", 1)[1]
    raise c.InfraError(f"no {PACKAGE}== pin in {c.REPO_ROOT / 'pyproject.toml'}")


def log_file(s: c.Settings | None = None) -> Path:
    return (s or c.settings()).logs_dir / "secantusdb.log"


def data_dir(s: c.Settings | None = None) -> Path:
    return (s or c.settings()).state_dir / "secantusdb" / "data"


def config_file(s: c.Settings | None = None) -> Path:
    return (s or c.settings()).state_dir / "secantusdb" / "secantusd.toml"


def fetch_secantus() -> bool:
    """Nothing to download (the virtualenv holds it); raises a one-line error when it is missing. Always False."""
    launcher()
    return False


# ---------------------------------------------------------------- run


def secantus_ready(timeout: float = 2.0) -> bool:
    """True when a MongoDB `ping` over OP_MSG answers ok: 1."""
    try:
        return infra_wire.mongo_ping(c.HOST, c.settings().mongodb_port, timeout)
    except Exception:  # refused, reset, timed out or garbled: all mean "not ready"
        return False


def secantus_pid() -> int | None:
    record = c.read_pid(c.settings(), NAME)
    return int(record["pid"]) if record else None


def _command(s: c.Settings) -> list[str]:
    log_level = os.environ.get("HUYING_SECANTUS_LOG_LEVEL", "WARNING")
    cache = os.environ.get("HUYING_SECANTUS_CACHE_SIZE", "1G")
    return [
        str(launcher()),
        # An explicit (empty) config file turns off the launcher's auto-discovery of ./, ~/.secantus/ and /etc/.
        f"--config={config_file(s)}",
        # Standalone: drivers see one server, not a replica set whose member name they would then have to reach.
        "--standalone",
        f"--host={c.HOST}",
        f"--port={s.mongodb_port}",
        f"--storage-path={data_dir(s)}",
        f"--log-level={log_level}",
        f"--cache-size={cache}",
        # Every commit fsyncs the journal before it is acknowledged: a process killed right after a write loses
        # nothing it acknowledged (without it, the last few milliseconds of commits can vanish while the events
        # their outbox published survive — found by the crash soak). Costs about 0.3 ms per commit here.
        *(["--sync-on-commit"] if os.environ.get("HUYING_SECANTUS_SYNC_ON_COMMIT", "1") != "0" else []),
    ]


def start_secantus(timeout: float = 60.0) -> bool:
    """Start SecantusDB detached and wait until it answers ping; False if it was already running."""
    s = c.settings()
    with c.locked(s, NAME):
        if c.running_on(s, NAME, [s.mongodb_port]):
            c.wait_ready(s, NAME, secantus_ready, timeout, log_file(s))
            return False
        c.require_free_ports(NAME, {"HUYING_MONGODB_PORT": s.mongodb_port})
        data_dir(s).mkdir(parents=True, exist_ok=True)
        config_file(s).write_text("# every setting is on the command line (deploy/local/infra_secantus.py)\n")
        c.spawn(s, NAME, _command(s), log_file(s), [s.mongodb_port], cwd=data_dir(s).parent)
        c.wait_ready(s, NAME, secantus_ready, timeout, log_file(s))
    return True


def stop_secantus(timeout: float = 30.0) -> bool:
    """SIGTERM SecantusDB's process group (it checkpoints WiredTiger; SIGKILL after timeout); False if not running."""
    s = c.settings()
    with c.locked(s, NAME):
        return c.stop_process(s, NAME, timeout)


def reset_secantus_data() -> None:
    """Delete all databases; SecantusDB must be stopped."""
    s = c.settings()
    if c.is_running(s, NAME):
        raise c.InfraError("secantusdb is running; stop it before resetting its data")
    shutil.rmtree(data_dir(s), ignore_errors=True)


def wait_secantus_ready(timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if secantus_ready():
            return True
        time.sleep(0.25)
    return False
