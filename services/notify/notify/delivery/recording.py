"""A channel that only records what it is given (in memory): the stand-in for the embedded outbox channel of
`notify.channels` until that exists, and what integration tests inspect."""

from __future__ import annotations

from dataclasses import dataclass, field

from notify.channels.base import DeliveryReport, Message, SendResult


@dataclass
class RecordingChannel:
    name: str = "outbox"
    kind: str = "outbox"
    sent: list[Message] = field(default_factory=list)

    async def send(self, message: Message) -> SendResult:
        self.sent.append(message)
        return SendResult.sent(f"{self.name}:{message.notification_id}")

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        return []

    async def close(self) -> None:
        return None
