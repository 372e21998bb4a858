"""Link management PDUs of CMPP 3.0: login (CONNECT), link test (ACTIVE_TEST) and logout (TERMINATE).

AuthenticatorSource = MD5(Source_Addr + 9 NUL octets + shared secret + Timestamp as the 10 digits MMDDHHMMSS);
AuthenticatorISMG = MD5(Status as 4 octets + AuthenticatorSource + shared secret)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from notify.channels.cmpp.fields import Reader, octets, u8, u32
from notify.channels.cmpp.pdu import CommandId, Pdu

VERSION = 0x30  # CMPP 3.0: high nibble major, low nibble minor


class ConnectStatus:
    """CONNECT_RESP Status values."""

    OK = 0
    BAD_STRUCTURE = 1
    BAD_SOURCE_ADDR = 2
    BAD_AUTHENTICATOR = 3
    VERSION_TOO_HIGH = 4


def timestamp(moment: datetime) -> int:
    """The CONNECT Timestamp: the local time MMDDHHMMSS read as a decimal number."""
    return int(moment.strftime("%m%d%H%M%S"))


def authenticator_source(source_addr: str, secret: str, stamp: int) -> bytes:
    material = source_addr.encode("latin-1") + b"\0" * 9 + secret.encode() + f"{stamp:010d}".encode()
    return hashlib.md5(material).digest()


def authenticator_ismg(status: int, source: bytes, secret: str) -> bytes:
    return hashlib.md5(u32(status) + source + secret.encode()).digest()


@dataclass(frozen=True, kw_only=True)
class Connect(Pdu):
    """Source_Addr (6, the SP's enterprise code), AuthenticatorSource (16), Version (1), Timestamp (4)."""

    COMMAND_ID: ClassVar[int] = CommandId.CONNECT
    source_addr: str
    authenticator: bytes
    version: int = VERSION
    timestamp: int = 0

    def body(self) -> bytes:
        if len(self.authenticator) != 16:
            raise ValueError("AuthenticatorSource is 16 octets")
        return octets(self.source_addr, 6) + self.authenticator + u8(self.version) + u32(self.timestamp)

    @classmethod
    def read(cls, sequence_id: int, reader: Reader) -> Self:
        return cls(
            sequence_id=sequence_id,
            source_addr=reader.octets(6),
            authenticator=reader.take(16),
            version=reader.u8(),
            timestamp=reader.u32(),
        )


@dataclass(frozen=True, kw_only=True)
class ConnectResp(Pdu):
    """Status (4 in CMPP 3.0; 1 in 2.0), AuthenticatorISMG (16), Version (1)."""

    COMMAND_ID: ClassVar[int] = CommandId.CONNECT_RESP
    status: int
    authenticator: bytes = b"\0" * 16
    version: int = VERSION

    def body(self) -> bytes:
        if len(self.authenticator) != 16:
            raise ValueError("AuthenticatorISMG is 16 octets")
        return u32(self.status) + self.authenticator + u8(self.version)

    @classmethod
    def read(cls, sequence_id: int, reader: Reader) -> Self:
        return cls(sequence_id=sequence_id, status=reader.u32(), authenticator=reader.take(16), version=reader.u8())


@dataclass(frozen=True, kw_only=True)
class ActiveTest(Pdu):
    """No body."""

    COMMAND_ID: ClassVar[int] = CommandId.ACTIVE_TEST


@dataclass(frozen=True, kw_only=True)
class ActiveTestResp(Pdu):
    """Reserved (1)."""

    COMMAND_ID: ClassVar[int] = CommandId.ACTIVE_TEST_RESP
    reserved: int = 0

    def body(self) -> bytes:
        return u8(self.reserved)

    @classmethod
    def read(cls, sequence_id: int, reader: Reader) -> Self:
        return cls(sequence_id=sequence_id, reserved=reader.u8())


@dataclass(frozen=True, kw_only=True)
class Terminate(Pdu):
    """No body."""

    COMMAND_ID: ClassVar[int] = CommandId.TERMINATE


@dataclass(frozen=True, kw_only=True)
class TerminateResp(Pdu):
    """No body."""

    COMMAND_ID: ClassVar[int] = CommandId.TERMINATE_RESP
