"""An app served for real on loopback (uvicorn in a thread of its own: its own event loop, its lifespan with Kafka
consumers and all), for tests and benchmarks that need a live HTTP port (a browser, a forwarded action)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: Any, port: int, *, ready_within: float = 90, stop_within: float = 30) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:`port` until the block ends; yields its base URL once /readyz answers 200."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + ready_within
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"{url} did not become ready")
            time.sleep(0.2)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=stop_within)
