"""Wire primitives of CMPP: big-endian unsigned integers and fixed-width octet strings padded with NUL."""

from __future__ import annotations

import struct

from notify.channels.cmpp.errors import CmppDecodeError


def octets(value: str, width: int) -> bytes:
    """A fixed-width octet string: the text (Latin-1, in practice ASCII), NUL-padded; too long is an error, never
    silently cut."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError as error:
        raise ValueError(f"{value!r} is not an octet string") from error
    if len(raw) > width:
        raise ValueError(f"{value!r} is longer than its {width}-octet field")
    return raw.ljust(width, b"\0")


def u8(value: int) -> bytes:
    return struct.pack(">B", value)


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def u64(value: int) -> bytes:
    return struct.pack(">Q", value)


class Reader:
    """Reads one PDU body field by field; running past the end or leaving bytes over is a decode error."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def take(self, width: int) -> bytes:
        if self._at + width > len(self._data):
            raise CmppDecodeError(f"body too short: needs {self._at + width} octets, has {len(self._data)}")
        chunk = self._data[self._at : self._at + width]
        self._at += width
        return chunk

    def octets(self, width: int) -> str:
        return self.take(width).rstrip(b"\0").decode("latin-1")

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def end(self) -> None:
        if self._at != len(self._data):
            raise CmppDecodeError(f"{len(self._data) - self._at} octets left over after the last field")
