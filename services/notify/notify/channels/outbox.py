"""The embedded outbox: a channel that delivers nothing and records everything (the default for `make run`).

The pipeline stores every notification before it calls a channel, so the outbox's record is the stored notification
itself: `send` only answers sent with the notification id as the gateway id. `recorded` keeps what passed through
this process, for tests and a local look."""

from __future__ import annotations

from notify.channels.base import DeliveryReport, Message, SendResult

RECORDED = "RECORDED"


class OutboxChannel:
    def __init__(self, name: str = "outbox", *, kind: str = "outbox", keep: int = 1000) -> None:
        self.name, self.kind = name, kind
        self._keep = keep
        self.recorded: list[Message] = []

    async def send(self, message: Message) -> SendResult:
        self.recorded.append(message)
        del self.recorded[: -self._keep]
        return SendResult.sent(message.notification_id)

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        return [DeliveryReport(gateway_id=gid, delivered=True, status=RECORDED) for gid in gateway_ids]

    async def close(self) -> None:
        return None
