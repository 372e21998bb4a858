"""An ISMG (the operator's SMS gateway) on a TCP port, speaking CMPP 3.0 to SP clients: it checks the login
authenticator, answers SUBMIT with Msg_Ids, reassembles long messages, sends status reports for submits that asked
for them, answers and sends ACTIVE_TEST, honours TERMINATE, and can be told to misbehave (`Faults`).
Everything it received is kept for assertions. `python -m notify.channels.cmpp` runs one."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notify.channels.cmpp import text as sms
from notify.channels.cmpp.errors import CmppLinkLost
from notify.channels.cmpp.link import Link
from notify.channels.cmpp.messages import Deliver, MsgFmt, StatusReport, Submit, SubmitResp, SubmitResult
from notify.channels.cmpp.msgid import new_msg_id
from notify.channels.cmpp.pdu import Pdu
from notify.channels.cmpp.session import (
    VERSION,
    ActiveTest,
    ActiveTestResp,
    Connect,
    ConnectResp,
    ConnectStatus,
    Terminate,
    TerminateResp,
    authenticator_ismg,
    authenticator_source,
)
from notify.channels.cmpp.simulation import Faults, ReceivedMessage, submit_result

log = logging.getLogger("notify.cmpp.simulator")


@dataclass(eq=False)
class _Session:
    link: Link
    source_addr: str | None = None
    submits: int = 0
    in_flight: int = 0


class IsmgSimulator:
    def __init__(
        self,
        *,
        accounts: Mapping[str, str],
        host: str = "127.0.0.1",
        port: int = 0,
        gateway: int = 1,
        idle_timeout: float | None = None,
        active_test_interval: float | None = None,
        response_timeout: float = 5.0,
        window: int | None = None,
        faults: Faults | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(ZoneInfo("Asia/Shanghai")),
    ) -> None:
        self.accounts = dict(accounts)
        self.faults = faults or Faults()
        self._host, self._port, self._gateway = host, port, gateway
        self._idle_timeout, self._active_test_interval = idle_timeout, active_test_interval
        self._response_timeout, self._now = response_timeout, now
        self._window = window  # enforced like an ISMG: a submit beyond it is answered with Result 8 (flow control)
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # outlive their connection: a report may go to the next one
        self._sequence = itertools.count(1)
        self._msg_sequence = itertools.count(1)
        self._parts: dict[tuple[object, ...], dict[int, tuple[bytes, int]]] = {}
        self.counts: Counter[str] = Counter()
        self.submits: list[Submit] = []
        self.messages: list[ReceivedMessage] = []
        self.acked_reports: list[int] = []  # Msg_Ids of status reports the client answered with Result 0
        self.max_in_flight = 0  # the most unanswered submits one connection ever had

    async def __aenter__(self) -> IsmgSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.sockets[0].getsockname()[1]

    @property
    def connections(self) -> int:
        """Logged-in connections now."""
        return sum(1 for s in self._sessions if s.source_addr and s.link.is_open)

    def drop_connections(self) -> None:
        """Cut every connection without a TERMINATE, as a failing network would."""
        for session in list(self._sessions):
            session.link.close("dropped by the simulator")

    async def terminate(self) -> None:
        """Log every SP out, as an ISMG going down for maintenance does: TERMINATE, wait for the answer, close."""
        for session in [s for s in self._sessions if s.link.is_open]:
            with contextlib.suppress(CmppLinkLost, TimeoutError):
                await session.link.request(Terminate(sequence_id=next(self._sequence)), timeout=self._response_timeout)
            session.link.close("terminated by the ISMG")

    async def send_mo(self, *, phone: str, text: str, dest_id: str, reference: int = 0) -> None:
        """A phone's reply to `dest_id`, in segments if long, to every logged-in connection of the account."""
        session = next(s for s in self._sessions if s.source_addr and s.link.is_open)
        for segment in sms.split(text, reference=reference):
            pdu = Deliver(
                sequence_id=next(self._sequence),
                msg_id=self._new_msg_id(),
                dest_id=dest_id,
                tp_udhi=segment.udhi,
                msg_fmt=MsgFmt.UCS2,
                src_terminal_id=phone,
                msg_content=segment.content,
            )
            await session.link.request(pdu, timeout=self._response_timeout)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def handle(_link: Link, pdu: Pdu) -> None:
            self._on_request(session, pdu)

        session = _Session(Link(reader, writer, on_request=handle, idle_timeout=self._idle_timeout))
        self._sessions.add(session)
        session.link.start()
        try:
            await session.link.wait_closed()
        finally:
            if session.link.error and str(session.link.error).startswith("idle"):
                self.counts["idle_drops"] += 1
            self._sessions.discard(session)

    def _on_request(self, session: _Session, pdu: Pdu) -> None:
        link = session.link
        if session.source_addr is None and not isinstance(pdu, Connect):
            link.close(f"{type(pdu).__name__} before CONNECT")
        elif isinstance(pdu, Connect):
            self._login(session, pdu)
        elif isinstance(pdu, Submit):
            self._on_submit(session, pdu)
        elif isinstance(pdu, ActiveTest):
            self.counts["active_tests"] += 1
            if self.faults.answer_active_test:
                link.send(ActiveTestResp(sequence_id=pdu.sequence_id))
        elif isinstance(pdu, Terminate):
            self.counts["terminates"] += 1
            link.send(TerminateResp(sequence_id=pdu.sequence_id))
            link.close("terminated by the SP")
        else:
            self.counts["unexpected"] += 1

    def _login(self, session: _Session, pdu: Connect) -> None:
        secret = self.accounts.get(pdu.source_addr)
        if pdu.version > VERSION:
            status = ConnectStatus.VERSION_TOO_HIGH
        elif secret is None:
            status = ConnectStatus.BAD_SOURCE_ADDR
        elif pdu.authenticator != authenticator_source(pdu.source_addr, secret, pdu.timestamp):
            status = ConnectStatus.BAD_AUTHENTICATOR
        else:
            status = ConnectStatus.OK
        proof = authenticator_ismg(status, pdu.authenticator, secret) if secret and not status else b"\0" * 16
        session.link.send(ConnectResp(sequence_id=pdu.sequence_id, status=status, authenticator=proof))
        if status:
            self.counts["refused"] += 1
            session.link.close(f"login refused: status {status}")
            return
        self.counts["logins"] += 1
        session.source_addr = pdu.source_addr
        if self._active_test_interval:
            self._spawn(self._link_test(session))

    def _on_submit(self, session: _Session, pdu: Submit) -> None:
        self.submits.append(pdu)
        session.submits += 1
        if self.faults.drop_after_submits is not None and session.submits >= self.faults.drop_after_submits:
            session.link.close("fault: dropped after submits")
            return
        if not self.faults.answer_submits:
            self.counts["swallowed"] += 1
            return
        invalid = submit_result(pdu, source_addr=session.source_addr or "")
        if invalid:
            self.counts["invalid"] += 1
            session.link.send(SubmitResp(sequence_id=pdu.sequence_id, msg_id=0, result=invalid))
            return
        if self._window is not None and session.in_flight >= self._window:
            self.counts["over_window"] += 1
            session.link.send(SubmitResp(sequence_id=pdu.sequence_id, msg_id=0, result=SubmitResult.FLOW_CONTROL))
            return
        session.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, session.in_flight)
        self._spawn(self._answer(session, pdu))

    async def _answer(self, session: _Session, pdu: Submit) -> None:
        try:
            if self.faults.submit_delay:
                await asyncio.sleep(self.faults.submit_delay)
        finally:
            session.in_flight -= 1
        result = self.faults.submit_result
        msg_id = self._new_msg_id() if result == 0 else 0
        session.link.send(SubmitResp(sequence_id=pdu.sequence_id, msg_id=msg_id, result=result))
        if result or not session.link.is_open:
            return
        self._collect(session, pdu, msg_id)
        if pdu.registered_delivery == 1:
            submitted = self._now()
            if self.faults.report_delay:
                await asyncio.sleep(self.faults.report_delay)
            for dest in pdu.dest_terminal_ids:
                await self._report(session, pdu, msg_id, dest, submitted)

    def _collect(self, session: _Session, pdu: Submit, msg_id: int) -> None:
        part = sms.parse(pdu.msg_content, udhi=pdu.tp_udhi)
        key = (session.source_addr, pdu.src_id, pdu.dest_terminal_ids, part.reference, part.total)
        parts = self._parts.setdefault(key, {})
        parts[part.number] = (part.payload, msg_id)
        if len(parts) < part.total:
            return
        del self._parts[key]
        ordered = [parts[n] for n in sorted(parts)]
        self.messages.append(
            ReceivedMessage(
                source_addr=session.source_addr or "",
                src_id=pdu.src_id,
                dest_terminal_ids=pdu.dest_terminal_ids,
                text=sms.decode_text(b"".join(p for p, _ in ordered), pdu.msg_fmt),
                msg_ids=tuple(m for _, m in ordered),
                registered_delivery=pdu.registered_delivery == 1,
            )
        )

    async def _report(self, session: _Session, pdu: Submit, msg_id: int, dest: str, submitted: datetime) -> None:
        report = StatusReport(
            msg_id=msg_id,
            stat=self.faults.report_stat,
            submit_time=submitted.strftime("%y%m%d%H%M"),
            done_time=self._now().strftime("%y%m%d%H%M"),
            dest_terminal_id=dest,
            smsc_sequence=next(self._sequence),
        )
        deliver = Deliver(
            sequence_id=next(self._sequence),
            msg_id=self._new_msg_id(),
            dest_id=pdu.src_id,
            src_terminal_id=dest,
            registered_delivery=1,
            msg_content=report.encode(),
        )
        targets = [session, *(s for s in self._sessions if s.source_addr == session.source_addr)]
        link = next((s.link for s in targets if s.link.is_open), None)
        if link is None:
            self.counts["reports_undelivered"] += 1
            return
        self.counts["reports_sent"] += 1
        with contextlib.suppress(CmppLinkLost, TimeoutError):
            answer = await link.request(deliver, timeout=self._response_timeout)
            if getattr(answer, "result", None) == 0:
                self.acked_reports.append(msg_id)

    async def _link_test(self, session: _Session) -> None:
        loop, interval = asyncio.get_running_loop(), self._active_test_interval or 0
        while session.link.is_open:
            quiet = loop.time() - session.link.last_received
            if quiet < interval:
                await session.link.wait_closed(interval - quiet)
                continue
            with contextlib.suppress(CmppLinkLost, TimeoutError):
                await session.link.request(ActiveTest(sequence_id=next(self._sequence)), timeout=interval)
                self.counts["active_test_resps"] += 1

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _new_msg_id(self) -> int:
        return new_msg_id(self._now(), gateway=self._gateway, sequence=next(self._msg_sequence))
