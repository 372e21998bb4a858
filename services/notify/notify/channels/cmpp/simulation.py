"""What the ISMG simulator can be told (`Faults`), what it records (`ReceivedMessage`), and how it judges a SUBMIT."""

from __future__ import annotations

from dataclasses import dataclass

from notify.channels.cmpp import text as sms
from notify.channels.cmpp.messages import MsgFmt, Submit, SubmitResult


@dataclass
class Faults:
    """Misbehaviour on demand; change the fields while the simulator runs."""

    submit_result: int = 0  # non-zero: answer every SUBMIT with this Result (8 = flow control)
    submit_delay: float = 0.0  # seconds before each SUBMIT_RESP
    answer_submits: bool = True  # False: swallow submits, the client must time out
    drop_after_submits: int | None = None  # cut the connection when this many submits arrived (none answered)
    answer_active_test: bool = True
    report_stat: str = "DELIVRD"
    report_delay: float = 0.0


@dataclass(frozen=True)
class ReceivedMessage:
    """A whole message as the ISMG put it together from its segments."""

    source_addr: str
    src_id: str
    dest_terminal_ids: tuple[str, ...]
    text: str
    msg_ids: tuple[int, ...]
    registered_delivery: bool


def submit_result(pdu: Submit, *, source_addr: str) -> int:
    """The SUBMIT_RESP Result an ISMG gives a malformed submit, 0 if it is well formed."""
    if len(pdu.msg_content) > sms.MAX_CONTENT + (20 if pdu.msg_fmt == MsgFmt.ASCII else 0):
        return SubmitResult.MSG_TOO_LONG
    if pdu.msg_fmt == MsgFmt.UCS2 and len(pdu.msg_content) % 2 and not pdu.tp_udhi:
        return SubmitResult.BAD_MSG_LENGTH
    if pdu.msg_src != source_addr or not 1 <= pdu.pk_number <= pdu.pk_total:
        return SubmitResult.BAD_STRUCTURE
    try:
        part = sms.parse(pdu.msg_content, udhi=pdu.tp_udhi)
    except ValueError:
        return SubmitResult.BAD_STRUCTURE
    if pdu.tp_udhi and (part.total, part.number) != (pdu.pk_total, pdu.pk_number):
        return SubmitResult.BAD_STRUCTURE
    return SubmitResult.OK
