"""Shared helpers for deploy/local/infra.py: paths, settings, tools, detached processes.

Standard library only: this runs before any virtualenv exists.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
HOST = "127.0.0.1"
LOG_ROTATE_BYTES = 20 * 1024 * 1024

# Popen objects of the processes this Python process started, kept so that
# stop() can reap them (no zombies, no ResourceWarning) when called in-process.
_CHILDREN: dict[int, subprocess.Popen] = {}


@atexit.register
def _leave_children_running() -> None:
    """Detached servers outlive this process on purpose: drop them without 'still running' warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        _CHILDREN.clear()


class InfraError(Exception):
    """A failure worth one clear line to the user (the CLI exits 2)."""


@dataclass(frozen=True)
class Settings:
    """Where things live and which ports are used; read from the environment.

    `local_dir` holds the cache (jars, the built binary); `state_dir` an instance's data, logs and pid files. They
    are the same folder unless HUYING_INFRA_STATE_DIR is set, which lets a second instance (on other ports) run
    beside the first from the same cache, as the readiness test does.
    """

    local_dir: Path
    state_dir: Path
    kafka_port: int
    kafka_controller_port: int
    mongodb_port: int

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://{HOST}:{self.mongodb_port}/"


def _port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise InfraError(f"{name}={raw!r} is not a TCP port number")
    return int(raw)


def settings() -> Settings:
    """Read settings from the environment each time (tests may change it)."""
    local = os.environ.get("HUYING_LOCAL_DIR", "").strip()
    local_dir = Path(local).resolve() if local else REPO_ROOT / ".local"
    state = os.environ.get("HUYING_INFRA_STATE_DIR", "").strip()
    return Settings(
        local_dir=local_dir,
        state_dir=Path(state).resolve() if state else local_dir,
        kafka_port=_port_from_env("HUYING_KAFKA_PORT", 9092),
        kafka_controller_port=_port_from_env("HUYING_KAFKA_CONTROLLER_PORT", 9093),
        mongodb_port=_port_from_env("HUYING_MONGODB_PORT", 27017),
    )


# ---------------------------------------------------------------- tools


def find_tool(name: str, *fallbacks: Path) -> str:
    """Return the path of an executable, or raise a one-line InfraError."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in fallbacks:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise InfraError(f"'{name}' not found on PATH; install it (see deploy/local/README.md)")


def files_digest(*paths: Path) -> str:
    """Short content hash of some files, used as a cache key."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def run_checked(cmd: list[str], what: str, **kwargs) -> None:
    """Run a build command; on failure raise with its last output line."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else "no output"
        raise InfraError(f"{what} failed (exit {proc.returncode}): {last}")


@contextlib.contextmanager
def locked(s: Settings, name: str) -> Iterator[None]:
    """Inter-process lock so that parallel starts/fetches do not collide (fetches lock the shared cache)."""
    folder = s.local_dir / "run" if name.startswith("fetch") else s.run_dir
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------- ports


def port_free(port: int) -> bool:
    """True when nothing listens on HOST:port (bind test, TIME_WAIT tolerated)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def require_free_ports(service: str, ports: dict[str, int]) -> None:
    for env_name, port in ports.items():
        if not port_free(port):
            raise InfraError(
                f"{service}: port {HOST}:{port} is already in use by another process "
                f"(not ours); stop it or set {env_name}"
            )


# ---------------------------------------------------------------- pid files


def _proc_start_time(pid: int) -> str | None:
    """Kernel start time of pid (field 22 of /proc/pid/stat), None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _reap(pid: int) -> None:
    """Collect an exited child of this process, if it is one."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_file(s: Settings, name: str) -> Path:
    return s.run_dir / f"{name}.pid"


def read_pid(s: Settings, name: str) -> dict | None:
    """Pid record of our running process `name`; removes a stale pid file."""
    path = pid_file(s, name)
    try:
        record = json.loads(path.read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if not _alive(pid, record.get("start_time")):
        path.unlink(missing_ok=True)
        return None
    return record


def is_running(s: Settings, name: str) -> bool:
    return read_pid(s, name) is not None


def running_on(s: Settings, name: str, ports: list[int]) -> bool:
    """True if our `name` runs on these ports, False if not running; raise if it runs on others."""
    record = read_pid(s, name)
    if record is None:
        return False
    if record.get("ports") != ports:
        raise InfraError(
            f"{name} is already running (pid {record['pid']}) on ports {record.get('ports')}, "
            f"not {ports}; stop it first"
        )
    return True


# ---------------------------------------------------------------- processes


def _open_log(path: Path):
    """Open a log for appending, keeping one old copy once it grows large."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > LOG_ROTATE_BYTES:
        path.replace(path.with_name(path.name + ".1"))
    return open(path, "ab")


def spawn(s: Settings, name: str, cmd: list[str], log: Path, ports: list[int], **extra) -> int:
    """Start cmd detached (own session) with output appended to log; write the pid file."""
    with _open_log(log) as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
        out.flush()
        child = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            **extra,
        )
    _CHILDREN[child.pid] = child
    record = {"pid": child.pid, "start_time": _proc_start_time(child.pid), "ports": ports, "cmd": cmd}
    s.run_dir.mkdir(parents=True, exist_ok=True)
    tmp = pid_file(s, name).with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(pid_file(s, name))
    return child.pid


def _alive(pid: int, start_time: str | None) -> bool:
    _reap(pid)
    return start_time is not None and _proc_start_time(pid) == start_time


def _wait_gone(pid: int, start_time: str | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid, start_time):
            return True
        time.sleep(0.1)
    return not _alive(pid, start_time)


def _signal_group(pid: int, sig: int) -> None:
    """Signal the process group led by pid (start_new_session made it leader)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def stop_process(s: Settings, name: str, timeout: float) -> bool:
    """SIGTERM the group, SIGKILL after timeout; True if something was running."""
    record = read_pid(s, name)
    if record is None:
        return False
    pid, start_time = int(record["pid"]), record.get("start_time")
    _signal_group(pid, signal.SIGTERM)
    if not _wait_gone(pid, start_time, timeout):
        _signal_group(pid, signal.SIGKILL)
        _wait_gone(pid, start_time, 10)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
    pid_file(s, name).unlink(missing_ok=True)
    return True


def log_tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_bytes()[-8192:].decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_ready(s: Settings, name: str, ready: Callable[[], bool], timeout: float, log: Path) -> None:
    """Poll ready() until True; fail fast if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not is_running(s, name):
            raise InfraError(f"{name} exited during start-up; see {log}\n{log_tail(log)}")
        time.sleep(0.25)
    stop_process(s, name, timeout=10)
    raise InfraError(f"{name} not ready after {timeout:.0f}s (stopped it); see {log}\n{log_tail(log)}")
