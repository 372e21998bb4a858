"""One CMPP connection, either side: frames PDUs out, reads PDUs in, matches each response to its request by
Sequence_Id and hands every request the peer sends to a handler. Used by the client and by the ISMG simulator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from notify.channels.cmpp.codec import PduStream, encode
from notify.channels.cmpp.errors import CmppLinkLost
from notify.channels.cmpp.pdu import Pdu

log = logging.getLogger("notify.cmpp")


class NotWritten(CmppLinkLost):
    """The link was already down when a request was about to be written: the peer never saw it."""


class Link:
    """Reads until the peer closes, a decode error, or `close`; then every waiting request fails with the reason."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_request: Callable[[Link, Pdu], None],
        idle_timeout: float | None = None,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._on_request = on_request
        self._idle_timeout = idle_timeout
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.error: CmppLinkLost | None = None
        self.last_received = asyncio.get_running_loop().time()

    def start(self) -> None:
        self._task = asyncio.create_task(self._read(), name="cmpp-link-read")

    @property
    def is_open(self) -> bool:
        return not self._closed.is_set()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def send(self, pdu: Pdu) -> None:
        """Write a PDU that expects no answer (a response); dropped if the link is down."""
        if self.is_open:
            self._writer.write(encode(pdu))

    async def request(self, pdu: Pdu, *, timeout: float) -> Pdu:
        """Write a request and wait for the response with its Sequence_Id. NotWritten if the link was down before
        the write; CmppLinkLost or TimeoutError after it (the peer may have acted on it)."""
        if not self.is_open:
            raise NotWritten(str(self.error))
        if pdu.sequence_id in self._pending:
            raise ValueError(f"Sequence_Id {pdu.sequence_id} is already waiting for its response")
        answer: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._pending[pdu.sequence_id] = answer
        try:
            self._writer.write(encode(pdu))
            async with asyncio.timeout(timeout):
                await self._writer.drain()
                return await answer
        except (ConnectionError, RuntimeError) as error:
            raise CmppLinkLost(f"write failed: {error}") from error
        finally:
            self._pending.pop(pdu.sequence_id, None)

    def close(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self.error = CmppLinkLost(reason)
        self._closed.set()
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(CmppLinkLost(reason))
        self._pending.clear()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._writer.close()

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """True once the link is down (False if still up after `timeout`)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), timeout)
        return self._closed.is_set()

    async def _read(self) -> None:
        stream = PduStream()
        try:
            while True:
                async with asyncio.timeout(self._idle_timeout):
                    data = await self._reader.read(65536)
                if not data:
                    self.close("the peer closed the connection")
                    return
                self.last_received = asyncio.get_running_loop().time()
                for pdu in stream.feed(data):
                    self._dispatch(pdu)
        except TimeoutError:
            self.close(f"idle for {self._idle_timeout} s")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a decode error or a reset: the link is unusable either way
            self.close(f"{type(error).__name__}: {error}")

    def _dispatch(self, pdu: Pdu) -> None:
        if not pdu.is_response:
            self._on_request(self, pdu)
            return
        answer = self._pending.get(pdu.sequence_id)
        if answer is None or answer.done():
            log.warning("cmpp: unmatched response %s seq %d", type(pdu).__name__, pdu.sequence_id)
        else:
            answer.set_result(pdu)
