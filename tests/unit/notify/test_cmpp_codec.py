"""CMPP 3.0 codec: every PDU survives encode → decode, the header and the authenticators match known answers, and
bad bytes are refused rather than guessed at."""

from __future__ import annotations

import ast
import importlib
import struct
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notify.channels.cmpp import CmppDecodeError, decode, encode
from notify.channels.cmpp.messages import Deliver, DeliverResp, StatusReport, Submit, SubmitResp
from notify.channels.cmpp.msgid import MsgIdParts, new_msg_id
from notify.channels.cmpp.pdu import UnknownPdu
from notify.channels.cmpp.session import (
    ActiveTest,
    ActiveTestResp,
    Connect,
    ConnectResp,
    Terminate,
    TerminateResp,
    authenticator_ismg,
    authenticator_source,
    timestamp,
)

pytestmark = pytest.mark.unit
PROPERTY = settings(max_examples=200, deadline=None)

seq = st.integers(0, 0xFFFFFFFF)
u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)


def text(width: int) -> st.SearchStrategy[str]:
    """An octet-string value: printable ASCII (what CMPP fields carry), never ending in NUL."""
    return st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=width)


content = st.binary(max_size=140)

connects = st.builds(
    Connect,
    sequence_id=seq,
    source_addr=text(6),
    authenticator=st.binary(min_size=16, max_size=16),
    version=u8,
    timestamp=u32,
)
connect_resps = st.builds(
    ConnectResp, sequence_id=seq, status=u32, authenticator=st.binary(min_size=16, max_size=16), version=u8
)
submits = st.builds(
    Submit,
    sequence_id=seq,
    msg_id=u64,
    pk_total=u8,
    pk_number=u8,
    registered_delivery=u8,
    msg_level=u8,
    service_id=text(10),
    fee_user_type=u8,
    fee_terminal_id=text(32),
    fee_terminal_type=u8,
    tp_pid=u8,
    tp_udhi=u8,
    msg_fmt=u8,
    msg_src=text(6),
    fee_type=text(2),
    fee_code=text(6),
    valid_time=text(17),
    at_time=text(17),
    src_id=text(21),
    dest_terminal_ids=st.lists(text(32), min_size=1, max_size=100).map(tuple),
    dest_terminal_type=u8,
    msg_content=content,
    link_id=text(20),
)
delivers = st.builds(
    Deliver,
    sequence_id=seq,
    msg_id=u64,
    dest_id=text(21),
    service_id=text(10),
    tp_pid=u8,
    tp_udhi=u8,
    msg_fmt=u8,
    src_terminal_id=text(32),
    src_terminal_type=u8,
    registered_delivery=u8,
    msg_content=content,
    link_id=text(20),
)
reports = st.builds(
    StatusReport,
    msg_id=u64,
    stat=text(7),
    submit_time=text(10),
    done_time=text(10),
    dest_terminal_id=text(32),
    smsc_sequence=u32,
)
pdus = st.one_of(
    connects,
    connect_resps,
    submits,
    st.builds(SubmitResp, sequence_id=seq, msg_id=u64, result=u32),
    delivers,
    st.builds(DeliverResp, sequence_id=seq, msg_id=u64, result=u32),
    st.builds(ActiveTest, sequence_id=seq),
    st.builds(ActiveTestResp, sequence_id=seq, reserved=u8),
    st.builds(Terminate, sequence_id=seq),
    st.builds(TerminateResp, sequence_id=seq),
)


@PROPERTY
@given(pdus)
def test_every_pdu_survives_a_round_trip(pdu):
    frame = encode(pdu)
    assert struct.unpack(">I", frame[:4])[0] == len(frame)
    assert decode(frame) == pdu


@PROPERTY
@given(reports, seq, u64)
def test_a_status_report_survives_a_round_trip_inside_a_deliver(report, sequence_id, msg_id):
    deliver = Deliver(sequence_id=sequence_id, msg_id=msg_id, registered_delivery=1, msg_content=report.encode())
    decoded = decode(encode(deliver))
    assert decoded.is_report
    assert decoded.report() == report
    assert len(report.encode()) == StatusReport.LENGTH


def test_header_is_length_command_and_sequence_big_endian():
    assert encode(ActiveTest(sequence_id=1)) == bytes.fromhex("0000000c 00000008 00000001")
    assert encode(TerminateResp(sequence_id=0x01020304)) == bytes.fromhex("0000000c 80000002 01020304")
    assert encode(ActiveTestResp(sequence_id=7)) == bytes.fromhex("0000000d 80000008 00000007 00")


def test_fixed_sizes_match_the_specification():
    connect = Connect(sequence_id=1, source_addr="901234", authenticator=bytes(16), timestamp=102030405)
    assert len(encode(connect)) == 12 + 6 + 16 + 1 + 4
    assert len(encode(ConnectResp(sequence_id=1, status=0))) == 12 + 4 + 16 + 1
    assert len(encode(SubmitResp(sequence_id=1, msg_id=1))) == 12 + 8 + 4
    assert len(encode(DeliverResp(sequence_id=1, msg_id=1))) == 12 + 8 + 4
    submit = Submit(sequence_id=1, dest_terminal_ids=("13800138000", "13900139000"), msg_content=b"x" * 10)
    assert len(encode(submit)) == 12 + 129 + 2 * 32 + 1 + 1 + 10 + 20
    assert len(encode(Deliver(sequence_id=1, msg_id=1, msg_content=b"x" * 71))) == 12 + 77 + 71 + 20


def test_connect_layout_known_answer():
    frame = encode(Connect(sequence_id=2, source_addr="901234", authenticator=bytes(range(16)), timestamp=1231235959))
    assert frame.hex() == (
        "00000027" "00000001" "00000002" "393031323334" "000102030405060708090a0b0c0d0e0f" "30" "49632b77"
    )  # fmt: skip


def test_authenticator_source_known_answer():
    # MD5("901234" + 9 × NUL + "123456" + "0102030405")
    assert authenticator_source("901234", "123456", 102030405).hex() == "579cdbbdc094a972b7998e4ded0c9648"


def test_authenticator_ismg_known_answer():
    source = bytes.fromhex("579cdbbdc094a972b7998e4ded0c9648")
    # MD5(Status 0 as 4 octets + AuthenticatorSource + "123456")
    assert authenticator_ismg(0, source, "123456").hex() == "cd69f9fd6c14fe68e412db27485d6448"


def test_timestamp_is_month_day_hour_minute_second_as_a_number():
    assert timestamp(datetime(2026, 1, 2, 3, 4, 5)) == 102030405
    assert timestamp(datetime(2026, 12, 31, 23, 59, 59)) == 1231235959


def test_an_unimplemented_command_comes_back_raw():
    frame = struct.pack(">III", 16, 0x00000006, 9) + b"abcd"
    assert decode(frame) == UnknownPdu(sequence_id=9, command_id=6, raw_body=b"abcd")


@pytest.mark.parametrize(
    "frame",
    [
        struct.pack(">III", 12, 0x80000004, 1),  # SUBMIT_RESP without a body
        struct.pack(">III", 25, 0x80000004, 1) + bytes(13),  # one octet too many
        struct.pack(">III", 13, 0x00000008, 1) + b"\0",  # ACTIVE_TEST has no body
        struct.pack(">III", 30, 0x80000004, 1) + bytes(12),  # Total_Length larger than the frame
    ],
)
def test_a_body_that_does_not_fit_its_command_is_refused(frame):
    with pytest.raises(CmppDecodeError):
        decode(frame)


def test_a_submit_without_destinations_is_refused_both_ways():
    with pytest.raises(ValueError):
        encode(Submit(dest_terminal_ids=(), msg_content=b"x"))
    good = encode(Submit(dest_terminal_ids=("1",), msg_content=b""))
    at = 12 + 128
    with pytest.raises(CmppDecodeError):
        decode(good[:at] + b"\0" + good[at + 1 :])


def test_a_field_too_long_is_an_error_not_a_silent_cut():
    with pytest.raises(ValueError, match="longer"):
        encode(Submit(dest_terminal_ids=("1" * 33,), msg_content=b""))
    with pytest.raises(ValueError):
        encode(Submit(dest_terminal_ids=("手机",), msg_content=b""))


@given(
    st.builds(
        MsgIdParts,
        st.integers(1, 12),
        st.integers(1, 31),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
        st.integers(0, (1 << 22) - 1),
        st.integers(0, 0xFFFF),
    )
)
def test_msg_id_parts_round_trip(parts):
    assert MsgIdParts.unpack(parts.pack()) == parts
    assert 0 <= parts.pack() < 1 << 64


def test_msg_id_puts_time_first():
    value = new_msg_id(datetime(2026, 12, 2, 4, 18, 13), gateway=1, sequence=0x10001)
    assert MsgIdParts.unpack(value) == MsgIdParts(12, 2, 4, 18, 13, 1, 1)


@pytest.mark.parametrize("module", ["codec", "fields", "messages", "msgid", "pdu", "session", "text"])
def test_the_codec_is_pure(module):
    source = Path(importlib.import_module(f"notify.channels.cmpp.{module}").__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"asyncio", "socket", "time", "logging"}
