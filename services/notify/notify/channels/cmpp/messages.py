"""Short message PDUs of CMPP 3.0: SUBMIT (SP → ISMG), DELIVER (ISMG → SP: a mobile-originated message or a status
report) and their responses. Field widths are in each class's docstring; strings are NUL-padded octets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from notify.channels.cmpp.errors import CmppDecodeError
from notify.channels.cmpp.fields import Reader, octets, u8, u32, u64
from notify.channels.cmpp.pdu import CommandId, Pdu


class MsgFmt:
    """Msg_Fmt values this library reads or writes."""

    ASCII = 0
    BINARY = 4
    UCS2 = 8
    GBK = 15


MAX_DESTINATIONS = 100  # DestUsr_tl: "取值范围1—100"


def _content(reader: Reader) -> bytes:
    return reader.take(reader.u8())


def _length_prefixed(content: bytes) -> bytes:
    if len(content) > 255:
        raise ValueError("Msg_Content is at most 255 octets (Msg_Length is one octet)")
    return u8(len(content)) + content


@dataclass(frozen=True, kw_only=True)
class Submit(Pdu):
    """Msg_Id (8, filled by the ISMG), Pk_total (1), Pk_number (1), Registered_Delivery (1), Msg_level (1),
    Service_Id (10), Fee_UserType (1), Fee_terminal_Id (32), Fee_terminal_type (1), TP_pId (1), TP_udhi (1),
    Msg_Fmt (1), Msg_src (6), FeeType (2), FeeCode (6), ValId_Time (17), At_Time (17), Src_Id (21),
    DestUsr_tl (1), Dest_terminal_Id (32 × DestUsr_tl), Dest_terminal_type (1), Msg_Length (1),
    Msg_Content (Msg_Length), LinkID (20)."""

    COMMAND_ID: ClassVar[int] = CommandId.SUBMIT
    dest_terminal_ids: tuple[str, ...]
    msg_content: bytes
    msg_id: int = 0
    pk_total: int = 1
    pk_number: int = 1
    registered_delivery: int = 1
    msg_level: int = 0
    service_id: str = ""
    fee_user_type: int = 0
    fee_terminal_id: str = ""
    fee_terminal_type: int = 0
    tp_pid: int = 0
    tp_udhi: int = 0
    msg_fmt: int = MsgFmt.UCS2
    msg_src: str = ""
    fee_type: str = "01"  # "01：对'计费用户号码'免费"
    fee_code: str = ""
    valid_time: str = ""
    at_time: str = ""
    src_id: str = ""
    dest_terminal_type: int = 0
    link_id: str = ""

    def body(self) -> bytes:
        if not 1 <= len(self.dest_terminal_ids) <= MAX_DESTINATIONS:
            raise ValueError(f"a SUBMIT has 1 to {MAX_DESTINATIONS} destinations")
        return b"".join(
            (
                u64(self.msg_id),
                u8(self.pk_total),
                u8(self.pk_number),
                u8(self.registered_delivery),
                u8(self.msg_level),
                octets(self.service_id, 10),
                u8(self.fee_user_type),
                octets(self.fee_terminal_id, 32),
                u8(self.fee_terminal_type),
                u8(self.tp_pid),
                u8(self.tp_udhi),
                u8(self.msg_fmt),
                octets(self.msg_src, 6),
                octets(self.fee_type, 2),
                octets(self.fee_code, 6),
                octets(self.valid_time, 17),
                octets(self.at_time, 17),
                octets(self.src_id, 21),
                u8(len(self.dest_terminal_ids)),
                *(octets(dest, 32) for dest in self.dest_terminal_ids),
                u8(self.dest_terminal_type),
                _length_prefixed(self.msg_content),
                octets(self.link_id, 20),
            )
        )

    @classmethod
    def read(cls, sequence_id: int, reader: Reader) -> Self:
        head = dict(
            msg_id=reader.u64(),
            pk_total=reader.u8(),
            pk_number=reader.u8(),
            registered_delivery=reader.u8(),
            msg_level=reader.u8(),
            service_id=reader.octets(10),
            fee_user_type=reader.u8(),
            fee_terminal_id=reader.octets(32),
            fee_terminal_type=reader.u8(),
            tp_pid=reader.u8(),
            tp_udhi=reader.u8(),
            msg_fmt=reader.u8(),
            msg_src=reader.octets(6),
            fee_type=reader.octets(2),
            fee_code=reader.octets(6),
            valid_time=reader.octets(17),
            at_time=reader.octets(17),
            src_id=reader.octets(21),
        )
        count = reader.u8()
        if not 1 <= count <= MAX_DESTINATIONS:
            raise CmppDecodeError(f"DestUsr_tl {count} is outside 1..{MAX_DESTINATIONS}")
        dests = tuple(reader.octets(32) for _ in range(count))
        return cls(
            sequence_id=sequence_id,
            dest_terminal_ids=dests,
            dest_terminal_type=reader.u8(),
            msg_content=_content(reader),
            link_id=reader.octets(20),
            **head,
        )


class SubmitResult:
    """SUBMIT_RESP Result values (0 success; 8 is the one worth retrying later)."""

    OK = 0
    BAD_STRUCTURE = 1
    BAD_COMMAND = 2
    DUPLICATE_SEQUENCE = 3
    BAD_MSG_LENGTH = 4
    BAD_FEE_CODE = 5
    MSG_TOO_LONG = 6
    BAD_SERVICE_ID = 7
    FLOW_CONTROL = 8


@dataclass(frozen=True, kw_only=True)
class SubmitResp(Pdu):
    """Msg_Id (8), Result (4 in CMPP 3.0)."""

    COMMAND_ID: ClassVar[int] = CommandId.SUBMIT_RESP
    msg_id: int
    result: int = SubmitResult.OK

    def body(self) -> bytes:
        return u64(self.msg_id) + u32(self.result)

    @classmethod
    def read(cls, sequence_id: int, reader: Reader) -> Self:
        return cls(sequence_id=sequence_id, msg_id=reader.u64(), result=reader.u32())


@dataclass(frozen=True, kw_only=True)
class StatusReport:
    """The Msg_Content of a DELIVER with Registered_Delivery = 1 (71 octets): Msg_Id (8, the SUBMIT_RESP's),
    Stat (7: DELIVRD, EXPIRED, UNDELIV, REJECTD, …), Submit_time (10, YYMMDDHHMM), Done_time (10),
    Dest_terminal_Id (32), SMSC_sequence (4)."""

    msg_id: int
    stat: str
    submit_time: str = ""
    done_time: str = ""
    dest_terminal_id: str = ""
    smsc_sequence: int = 0

    LENGTH: ClassVar[int] = 71

    @property
    def delivered(self) -> bool:
        return self.stat == "DELIVRD"

    def encode(self) -> bytes:
        return b"".join(
            (
                u64(self.msg_id),
                octets(self.stat, 7),
                octets(self.submit_time, 10),
                octets(self.done_time, 10),
                octets(self.dest_terminal_id, 32),
                u32(self.smsc_sequence),
            )
        )

    @classmethod
    def decode(cls, content: bytes) -> Self:
        reader = Reader(content)
        report = cls(
            msg_id=reader.u64(),
            stat=reader.octets(7),
            submit_time=reader.octets(10),
            done_time=reader.octets(10),
            dest_terminal_id=reader.octets(32),
            smsc_sequence=reader.u32(),
        )
        reader.end()
        return report


@dataclass(frozen=True, kw_only=True)
class Deliver(Pdu):
    """Msg_Id (8), Dest_Id (21), Service_Id (10), TP_pid (1), TP_udhi (1), Msg_Fmt (1), Src_terminal_Id (32),
    Src_terminal_type (1), Registered_Delivery (1: 0 a mobile-originated message, 1 a status report),
    Msg_Length (1), Msg_Content (Msg_Length), LinkID (20)."""

    COMMAND_ID: ClassVar[int] = CommandId.DELIVER
    msg_id: int
    msg_content: bytes
    dest_id: str = ""
    service_id: str = ""
    tp_pid: int = 0
    tp_udhi: int = 0
    msg_fmt: int = MsgFmt.ASCII
    src_terminal_id: str = ""
    src_terminal_type: int = 0
    registered_delivery: int = 0
    link_id: str = ""

    @property
    def is_report(self) -> bool:
        return self.registered_delivery == 1

    def report(self) -> StatusReport:
        return StatusReport.decode(self.msg_content)

    def body(self) -> bytes:
        return b"".join(
            (
                u64(self.msg_id),
                octets(self.dest_id, 21),
                octets(self.service_id, 10),
                u8(self.tp_pid),
                u8(self.tp_udhi),
                u8(self.msg_fmt),
                octets(self.src_terminal_id, 32),
                u8(self.src_terminal_type),
                u8(self.registered_delivery),
                _length_prefixed(self.msg_content),
                octets(self.link_id, 20),
            )
        )

    @classmethod
    def read(cls, sequence_id: int, reader: Reader) -> Self:
        return cls(
            sequence_id=sequence_id,
            msg_id=reader.u64(),
            dest_id=reader.octets(21),
            service_id=reader.octets(10),
            tp_pid=reader.u8(),
            tp_udhi=reader.u8(),
            msg_fmt=reader.u8(),
            src_terminal_id=reader.octets(32),
            src_terminal_type=reader.u8(),
            registered_delivery=reader.u8(),
            msg_content=_content(reader),
            link_id=reader.octets(20),
        )


@dataclass(frozen=True, kw_only=True)
class DeliverResp(Pdu):
    """Msg_Id (8, the DELIVER's), Result (4: 0 accepted, 1 structure error, …)."""

    COMMAND_ID: ClassVar[int] = CommandId.DELIVER_RESP
    msg_id: int
    result: int = 0

    def body(self) -> bytes:
        return u64(self.msg_id) + u32(self.result)

    @classmethod
    def read(cls, sequence_id: int, reader: Reader) -> Self:
        return cls(sequence_id=sequence_id, msg_id=reader.u64(), result=reader.u32())
