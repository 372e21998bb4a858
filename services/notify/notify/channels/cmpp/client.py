"""An asyncio CMPP 3.0 client for an SP: log in, submit with a flow-control window, take status reports and
mobile-originated messages, keep an idle link alive with ACTIVE_TEST, log out with TERMINATE.

A lost link fails every waiting submit at once (CmppOutcomeUnknown: it was written) and the next `send` opens a new
one; nothing is ever resent by this client, because a resent SUBMIT is a second SMS on the recipient's phone."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notify.channels.cmpp import text as sms
from notify.channels.cmpp.config import CmppConfig, InboundMessage, signed
from notify.channels.cmpp.errors import (
    CmppAuthError,
    CmppConnectError,
    CmppDecodeError,
    CmppLinkLost,
    CmppNotSent,
    CmppOutcomeUnknown,
    CmppRejected,
)
from notify.channels.cmpp.link import Link, NotWritten
from notify.channels.cmpp.messages import Deliver, DeliverResp, MsgFmt, StatusReport, Submit, SubmitResp
from notify.channels.cmpp.pdu import Pdu
from notify.channels.cmpp.session import (
    ActiveTest,
    ActiveTestResp,
    Connect,
    ConnectResp,
    ConnectStatus,
    Terminate,
    TerminateResp,
    authenticator_ismg,
    authenticator_source,
    timestamp,
)

log = logging.getLogger("notify.cmpp")
SHANGHAI = ZoneInfo("Asia/Shanghai")


class CmppClient:
    """Status reports go to `on_report` if given, else to the `reports` queue; MO messages likewise."""

    def __init__(
        self,
        config: CmppConfig,
        *,
        on_report: Callable[[StatusReport], Any] | None = None,
        on_message: Callable[[InboundMessage], Any] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(SHANGHAI),
    ) -> None:
        self.config = config
        self.reports: asyncio.Queue[StatusReport] = asyncio.Queue()
        self.messages: asyncio.Queue[InboundMessage] = asyncio.Queue()
        self._on_report = on_report or self.reports.put_nowait
        self._on_message = on_message or self.messages.put_nowait
        self._now = now
        self._window = asyncio.Semaphore(config.window)
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._link: Link | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._opening = asyncio.Lock()
        self._attempts = 0
        self._open_error: CmppConnectError | None = None
        self._sequence = itertools.cycle(range(1, 0x100000000))
        self._reference = itertools.count(random.randrange(256))  # split() keeps the low octet
        self._incoming = sms.Reassembler()
        self._closed = False

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.is_open

    @property
    def in_flight(self) -> int:
        """Submits written and not yet answered (never more than the window)."""
        return self._in_flight

    async def __aenter__(self) -> CmppClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open and authenticate the link unless it is up."""
        await self._ensure_link()

    async def send(self, phone: str, text: str, *, signature: str = "") -> list[int]:
        """Submit one SMS (as many segments as it takes); the Msg_Ids the ISMG assigned, one per segment."""
        segments = sms.split(signed(text, signature, at=self.config.signature_at), reference=next(self._reference))
        link = await self._ensure_link()
        results = await asyncio.gather(*(self._submit(link, phone, s) for s in segments), return_exceptions=True)
        accepted = tuple(r for r in results if isinstance(r, int))
        errors = [r for r in results if isinstance(r, BaseException)]
        if not errors:
            return list(accepted)
        for kind in (CmppOutcomeUnknown, CmppRejected, CmppNotSent):  # the most cautious verdict wins
            for error in errors:
                if isinstance(error, kind):
                    error.accepted = accepted
                    raise error
        raise errors[0]

    async def close(self) -> None:
        """Wait for in-flight submits (bounded by the response timeout), then TERMINATE and close."""
        self._closed = True
        link = self._link
        if link is None or not link.is_open:
            await self._stop_keepalive()
            return
        with contextlib.suppress(TimeoutError):  # a lost link fails its submits at once, so this ends early too
            await asyncio.wait_for(self._drained.wait(), self.config.response_timeout)
        with contextlib.suppress(CmppLinkLost, TimeoutError):
            await link.request(Terminate(sequence_id=self._next_sequence()), timeout=self.config.response_timeout)
        link.close("closed by the SP")
        await self._stop_keepalive()

    async def _ensure_link(self) -> Link:
        if self._closed:
            raise CmppNotSent("the client is closed")
        attempts = self._attempts
        async with self._opening:
            if self._link is not None and self._link.is_open:
                return self._link
            if self._attempts != attempts and self._open_error is not None:
                # it failed while we queued: one attempt per outage, not one per waiting send
                error = self._open_error
                if isinstance(error, CmppAuthError):
                    raise CmppAuthError(error.status) from error
                raise CmppConnectError(str(error)) from error
            self._attempts += 1
            await self._stop_keepalive()
            try:
                self._link = await self._open()
            except CmppConnectError as error:
                self._open_error = error
                raise
            self._open_error = None
            self._keepalive = asyncio.create_task(self._keep_alive(self._link), name="cmpp-keepalive")
            return self._link

    async def _open(self) -> Link:
        config = self.config
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(config.host, config.port), config.connect_timeout
            )
        except (OSError, TimeoutError) as error:
            raise CmppConnectError(f"no connection to {config.host}:{config.port}: {error!r}") from error
        link = Link(reader, writer, on_request=self._on_request)
        link.start()
        stamp = timestamp(self._now())
        proof = authenticator_source(config.source_addr, config.shared_secret, stamp)
        login = Connect(
            sequence_id=self._next_sequence(), source_addr=config.source_addr, authenticator=proof, timestamp=stamp
        )
        try:
            answer = await link.request(login, timeout=config.connect_timeout)
        except (CmppLinkLost, TimeoutError) as error:
            link.close("no CONNECT_RESP")
            raise CmppConnectError(f"no CONNECT_RESP: {error!r}") from error
        if not isinstance(answer, ConnectResp) or answer.status != ConnectStatus.OK:
            link.close("login refused")
            raise CmppAuthError(getattr(answer, "status", ConnectStatus.BAD_STRUCTURE))
        if config.verify_ismg and answer.authenticator != authenticator_ismg(0, proof, config.shared_secret):
            link.close("ISMG authenticator mismatch")
            raise CmppConnectError("the ISMG's AuthenticatorISMG does not match the shared secret")
        return link

    async def _submit(self, link: Link, phone: str, segment: sms.Segment) -> int:
        try:
            async with asyncio.timeout(self.config.response_timeout):  # a cancelled wait never leaks a slot
                await self._window.acquire()
        except TimeoutError as error:
            raise CmppNotSent("no flow-control window slot in time") from error
        self._in_flight += 1
        self._drained.clear()
        try:
            pdu = self._submit_pdu(phone, segment)
            try:
                answer = await link.request(pdu, timeout=self.config.response_timeout)
            except NotWritten as error:
                raise CmppNotSent(f"link down before the submit: {error}") from error
            except (CmppLinkLost, TimeoutError) as error:
                raise CmppOutcomeUnknown(f"submitted, no SUBMIT_RESP: {error!r}") from error
            if not isinstance(answer, SubmitResp):
                raise CmppOutcomeUnknown(f"answered with {type(answer).__name__}")
            if answer.result != 0:
                raise CmppRejected(answer.result)
            return answer.msg_id
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._drained.set()
            self._window.release()

    def _submit_pdu(self, phone: str, segment: sms.Segment) -> Submit:
        config = self.config
        return Submit(
            sequence_id=self._next_sequence(),
            pk_total=segment.total,
            pk_number=segment.number,
            registered_delivery=int(config.registered_delivery),
            service_id=config.service_id,
            tp_udhi=segment.udhi,
            msg_fmt=MsgFmt.UCS2,
            msg_src=config.source_addr,
            src_id=config.src_id,
            dest_terminal_ids=(phone,),
            msg_content=segment.content,
        )

    def _on_request(self, link: Link, pdu: Pdu) -> None:
        if isinstance(pdu, ActiveTest):
            link.send(ActiveTestResp(sequence_id=pdu.sequence_id))
        elif isinstance(pdu, Terminate):
            link.send(TerminateResp(sequence_id=pdu.sequence_id))
            link.close("the ISMG terminated the link")
        elif isinstance(pdu, Deliver):
            link.send(DeliverResp(sequence_id=pdu.sequence_id, msg_id=pdu.msg_id, result=self._take(pdu)))
        else:
            log.warning("cmpp: ignoring %s from the ISMG", type(pdu).__name__)

    def _take(self, pdu: Deliver) -> int:
        """DELIVER_RESP Result: 0 taken, 1 a malformed report or segment, 9 our own handler failed."""
        try:
            if pdu.is_report:
                item: Any = pdu.report()
                handler = self._on_report
            else:
                whole = self._incoming.add(
                    (pdu.src_terminal_id, pdu.dest_id), sms.parse(pdu.msg_content, udhi=pdu.tp_udhi)
                )
                if whole is None:
                    return 0
                item = InboundMessage(pdu.src_terminal_id, pdu.dest_id, sms.decode_text(whole, pdu.msg_fmt))
                handler = self._on_message
        except (CmppDecodeError, ValueError) as error:
            log.warning("cmpp: malformed DELIVER %d: %s", pdu.msg_id, error)
            return 1
        try:
            handler(item)
        except Exception:
            log.exception("cmpp: the DELIVER handler failed")
            return 9
        return 0

    async def _keep_alive(self, link: Link) -> None:
        """ACTIVE_TEST after `active_test_interval` without a word from the ISMG; `active_test_misses` unanswered
        in a row drop the link (the next send reconnects)."""
        config, loop, misses = self.config, asyncio.get_running_loop(), 0
        while link.is_open:
            quiet = loop.time() - link.last_received
            if quiet < config.active_test_interval:
                await link.wait_closed(config.active_test_interval - quiet)
                continue
            try:
                await link.request(ActiveTest(sequence_id=self._next_sequence()), timeout=config.response_timeout)
                misses = 0
            except TimeoutError:
                misses += 1
                if misses >= config.active_test_misses:
                    link.close(f"{misses} ACTIVE_TEST unanswered")
            except CmppLinkLost:
                return

    async def _stop_keepalive(self) -> None:
        task, self._keepalive = self._keepalive, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _next_sequence(self) -> int:
        return next(self._sequence)
