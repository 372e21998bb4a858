"""The 64-bit Msg_Id an ISMG assigns: month (4 bits), day (5), hour (5), minute (6), second (6), ISMG code (22),
sequence (16), most significant first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

_LAYOUT = (("month", 4), ("day", 5), ("hour", 5), ("minute", 6), ("second", 6), ("gateway", 22), ("sequence", 16))


@dataclass(frozen=True)
class MsgIdParts:
    month: int
    day: int
    hour: int
    minute: int
    second: int
    gateway: int
    sequence: int

    def pack(self) -> int:
        value = 0
        for name, bits in _LAYOUT:
            part = getattr(self, name)
            if not 0 <= part < 1 << bits:
                raise ValueError(f"{name} {part} does not fit in {bits} bits")
            value = value << bits | part
        return value

    @classmethod
    def unpack(cls, value: int) -> MsgIdParts:
        parts: dict[str, int] = {}
        for name, bits in reversed(_LAYOUT):
            parts[name] = value & ((1 << bits) - 1)
            value >>= bits
        return cls(**parts)


def new_msg_id(moment: datetime, *, gateway: int, sequence: int) -> int:
    """A Msg_Id for a submit accepted at `moment` (the ISMG's local time) as the `sequence`-th of that gateway."""
    return MsgIdParts(
        moment.month, moment.day, moment.hour, moment.minute, moment.second, gateway, sequence & 0xFFFF
    ).pack()
