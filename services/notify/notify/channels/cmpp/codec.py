"""Bytes ↔ PDUs: `encode` one PDU, `decode` one framed PDU, and `PduStream` to cut a TCP byte stream into PDUs
(partial reads wait for more bytes; several PDUs in one read all come out; a malformed length fails at once)."""

from __future__ import annotations

import struct

from notify.channels.cmpp.errors import CmppDecodeError
from notify.channels.cmpp.fields import Reader
from notify.channels.cmpp.messages import Deliver, DeliverResp, Submit, SubmitResp
from notify.channels.cmpp.pdu import HEADER_LENGTH, MAX_LENGTH, Pdu, UnknownPdu
from notify.channels.cmpp.session import (
    ActiveTest,
    ActiveTestResp,
    Connect,
    ConnectResp,
    Terminate,
    TerminateResp,
)

PDU_TYPES: dict[int, type[Pdu]] = {
    cls.COMMAND_ID: cls
    for cls in (
        Connect,
        ConnectResp,
        Terminate,
        TerminateResp,
        Submit,
        SubmitResp,
        Deliver,
        DeliverResp,
        ActiveTest,
        ActiveTestResp,
    )
}


def command_id(pdu: Pdu) -> int:
    return pdu.command_id if isinstance(pdu, UnknownPdu) else pdu.COMMAND_ID


def encode(pdu: Pdu) -> bytes:
    """The PDU with its 12-octet header."""
    if not 0 <= pdu.sequence_id <= 0xFFFFFFFF:
        raise ValueError("Sequence_Id is a 32-bit unsigned integer")
    body = pdu.body()
    return struct.pack(">III", HEADER_LENGTH + len(body), command_id(pdu), pdu.sequence_id) + body


def checked_length(header: bytes) -> int:
    """Total_Length from a header, refused when it cannot be a CMPP PDU."""
    (length,) = struct.unpack(">I", header[:4])
    if not HEADER_LENGTH <= length <= MAX_LENGTH:
        raise CmppDecodeError(f"Total_Length {length} is outside {HEADER_LENGTH}..{MAX_LENGTH}")
    return length


def decode(frame: bytes) -> Pdu:
    """One whole PDU (header and body) back into its dataclass; an unimplemented command comes back raw."""
    if len(frame) < HEADER_LENGTH or checked_length(frame) != len(frame):
        raise CmppDecodeError(f"a frame of {len(frame)} octets does not match its Total_Length")
    _, command, sequence_id = struct.unpack(">III", frame[:HEADER_LENGTH])
    body = frame[HEADER_LENGTH:]
    cls = PDU_TYPES.get(command)
    if cls is None:
        return UnknownPdu(sequence_id=sequence_id, command_id=command, raw_body=body)
    reader = Reader(body)
    try:
        pdu = cls.read(sequence_id, reader)
    except (ValueError, UnicodeDecodeError) as error:
        raise CmppDecodeError(f"{cls.__name__}: {error}") from error
    reader.end()
    return pdu


class PduStream:
    """Incremental decoder for one connection. After an error the stream is unusable: the peer is out of sync
    and the connection must be dropped."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._broken: CmppDecodeError | None = None

    def feed(self, data: bytes) -> list[Pdu]:
        if self._broken is not None:
            raise self._broken
        self._buffer += data
        pdus: list[Pdu] = []
        try:
            while len(self._buffer) >= HEADER_LENGTH:
                length = checked_length(bytes(self._buffer[:4]))
                if len(self._buffer) < length:
                    break
                frame = bytes(self._buffer[:length])
                del self._buffer[:length]
                pdus.append(decode(frame))
        except CmppDecodeError as error:
            self._broken = error
            raise
        return pdus

    @property
    def pending(self) -> int:
        """Octets received that do not yet make a whole PDU."""
        return len(self._buffer)
