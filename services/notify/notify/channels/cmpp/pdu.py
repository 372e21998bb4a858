"""The CMPP 3.0 message header and the base of every PDU.

Header (12 octets, big-endian): Total_Length (4, header included), Command_Id (4), Sequence_Id (4). A response
carries the Sequence_Id of its request and the request's Command_Id with the high bit set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from notify.channels.cmpp.fields import Reader

HEADER_LENGTH = 12
# CMPP_SUBMIT is the largest PDU: 129 fixed octets, 100 destinations of 32, then 1 + 1 + 140 + 20 octets
# (Msg_Content at most 160 for Msg_Fmt 0). Anything beyond this bound is a corrupt length, not a message.
MAX_LENGTH = 4096
RESPONSE_BIT = 0x80000000


class CommandId:
    """Command_Id values of CMPP 3.0 (section 7.4 of the specification)."""

    CONNECT = 0x00000001
    TERMINATE = 0x00000002
    SUBMIT = 0x00000004
    DELIVER = 0x00000005
    QUERY = 0x00000006
    CANCEL = 0x00000007
    ACTIVE_TEST = 0x00000008
    CONNECT_RESP = CONNECT | RESPONSE_BIT
    TERMINATE_RESP = TERMINATE | RESPONSE_BIT
    SUBMIT_RESP = SUBMIT | RESPONSE_BIT
    DELIVER_RESP = DELIVER | RESPONSE_BIT
    QUERY_RESP = QUERY | RESPONSE_BIT
    CANCEL_RESP = CANCEL | RESPONSE_BIT
    ACTIVE_TEST_RESP = ACTIVE_TEST | RESPONSE_BIT


@dataclass(frozen=True, kw_only=True)
class Pdu:
    """One PDU: its Sequence_Id and its body fields; subclasses say how the body is laid out."""

    COMMAND_ID: ClassVar[int]
    sequence_id: int = 0

    def body(self) -> bytes:
        return b""

    @classmethod
    def read(cls, sequence_id: int, reader: Reader) -> Self:
        return cls(sequence_id=sequence_id)

    @property
    def is_response(self) -> bool:
        return bool(self.COMMAND_ID & RESPONSE_BIT)


@dataclass(frozen=True, kw_only=True)
class UnknownPdu(Pdu):
    """A command this library does not implement (QUERY, CANCEL, a vendor extension): kept raw, never fatal."""

    COMMAND_ID: ClassVar[int] = 0
    command_id: int
    raw_body: bytes = b""

    def body(self) -> bytes:
        return self.raw_body

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)
