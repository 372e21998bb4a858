"""SMS over CMPP 3.0: the Channel around the CMPP client (notify.channels.cmpp), and its status reports as
DeliveryReports the pipeline subscribes to.

Verdicts: `CmppNotSent` → retry (the ISMG never saw the failing submit); `CmppRejected` Result 8 (flow control) →
retry; any other Result → rejected; `CmppOutcomeUnknown` → unknown, with the Msg_Ids of the segments that were
accepted. Gateway ids are the Msg_Ids as decimal strings, one per segment, and each segment gets its own report."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notify.channels.base import DeliveryReport, Message, SendResult
from notify.channels.cmpp import (
    CmppClient,
    CmppConfig,
    CmppNotSent,
    CmppOutcomeUnknown,
    CmppRejected,
    CmppSendError,
    StatusReport,
)

log = logging.getLogger("notify.channels.cmpp")
SHANGHAI = ZoneInfo("Asia/Shanghai")
FLOW_CONTROL = 8  # SUBMIT_RESP Result "8：流量控制错" — the ISMG says later, not never


def verdict(error: CmppSendError) -> SendResult:
    """What a failed CMPP send means for the pipeline."""
    accepted = tuple(str(i) for i in error.accepted)
    note = f"{error}{f' (accepted segments: {len(accepted)})' if accepted else ''}"
    if isinstance(error, CmppOutcomeUnknown):
        return SendResult.unknown(note, *accepted)
    if isinstance(error, CmppRejected):
        return SendResult.retry(note) if error.result == FLOW_CONTROL else SendResult.rejected(note)
    if isinstance(error, CmppNotSent):
        return SendResult.retry(note)
    return SendResult.unknown(note, *accepted)


def delivery_report(report: StatusReport) -> DeliveryReport:
    return DeliveryReport(
        gateway_id=str(report.msg_id), delivered=report.delivered, status=report.stat, at=_done(report.done_time)
    )


def _done(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%y%m%d%H%M").replace(tzinfo=SHANGHAI)
    except ValueError:
        return None


class CmppChannel:
    """Reports go to every `subscribe`d callback, else to `reports()` (an async iterator over one queue)."""

    kind = "sms"

    def __init__(self, name: str, config: CmppConfig, *, signature: str = "", client: CmppClient | None = None):
        self.name = name
        self._signature = signature
        self._subscribers: list[Callable[[DeliveryReport], Any]] = []
        self._queue: asyncio.Queue[DeliveryReport] = asyncio.Queue()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._client = client or CmppClient(config, on_report=self._on_report)

    def subscribe(self, callback: Callable[[DeliveryReport], Any]) -> None:
        """Call `callback` with each DeliveryReport (a coroutine function is scheduled as a task)."""
        self._subscribers.append(callback)

    async def reports(self) -> AsyncIterator[DeliveryReport]:
        while True:
            yield await self._queue.get()

    def _on_report(self, report: StatusReport) -> None:
        item = delivery_report(report)
        if not self._subscribers:
            self._queue.put_nowait(item)
        for callback in self._subscribers:
            result = callback(item)
            if asyncio.iscoroutine(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                task.add_done_callback(_log_failure)

    async def send(self, message: Message) -> SendResult:
        try:
            ids = await self._client.send(message.to, message.text, signature=self._signature)
        except CmppSendError as error:
            return verdict(error)
        return SendResult.sent(*(str(i) for i in ids))

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        return []  # CMPP_QUERY is not implemented (docs/notify-cmpp.md); status reports settle sends

    async def close(self) -> None:
        await self._client.close()


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("cmpp: a report subscriber failed", exc_info=task.exception())
