"""An ASGI app served by uvicorn on a loopback port inside the running event loop (the simulator's and the tests'
receivers'): it can go down and come back on the same port, and leaves the process's signal handlers alone."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

import uvicorn


class _EmbeddedServer(uvicorn.Server):
    def capture_signals(self):  # type: ignore[override] — inside tests and other programs: leave signals alone
        return contextlib.nullcontext()


class LoopbackServer:
    """An ASGI app served by uvicorn inside this event loop, on a port that survives `down()` / `up()`."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, embedded: bool = True) -> None:
        self.app, self.host, self.port, self._embedded = app, host, port, embedded
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def up(self) -> None:
        if self._server is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=1
        )
        self._server = (_EmbeddedServer if self._embedded else uvicorn.Server)(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]), name="loopback-http")
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._serving.done() or time.monotonic() > deadline:
                raise RuntimeError(f"no HTTP server on {self.host}:{self.port}")
            await asyncio.sleep(0.01)

    async def down(self) -> None:
        server, serving, self._server, self._serving = self._server, self._serving, None, None
        if server is None or serving is None:
            return
        server.should_exit = True
        await serving

    async def wait(self) -> None:
        if self._serving is not None:
            await self._serving

    async def __aenter__(self) -> LoopbackServer:
        await self.up()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.down()
