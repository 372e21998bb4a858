"""The stream decoder cuts a TCP byte stream into PDUs however the bytes are chunked, and fails at once on a length
that cannot be a CMPP PDU (it never waits for bytes that will not come)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notify.channels.cmpp import CmppDecodeError, PduStream, encode
from notify.channels.cmpp.messages import SubmitResp
from notify.channels.cmpp.session import ActiveTest

from .test_cmpp_codec import pdus

pytestmark = pytest.mark.unit


@settings(max_examples=150, deadline=None)
@given(st.lists(pdus, min_size=1, max_size=8), st.data())
def test_any_chunking_yields_the_same_pdus_in_order(messages, data):
    wire = b"".join(encode(p) for p in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=12)))
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    stream = PduStream()
    out = [pdu for chunk in chunks for pdu in stream.feed(chunk)]
    assert out == messages
    assert stream.pending == 0


def test_several_pdus_in_one_read():
    wire = encode(ActiveTest(sequence_id=1)) + encode(SubmitResp(sequence_id=2, msg_id=9)) + b"\0\0"
    stream = PduStream()
    assert stream.feed(wire) == [ActiveTest(sequence_id=1), SubmitResp(sequence_id=2, msg_id=9)]
    assert stream.pending == 2


def test_a_partial_header_waits_for_more():
    frame = encode(SubmitResp(sequence_id=5, msg_id=1))
    stream = PduStream()
    assert stream.feed(frame[:3]) == []
    assert stream.feed(frame[3:13]) == []
    assert stream.feed(frame[13:]) == [SubmitResp(sequence_id=5, msg_id=1)]


@pytest.mark.parametrize("length", [0, 11, 4097, 0xFFFFFFFF])
def test_an_impossible_length_fails_as_soon_as_it_is_read(length):
    stream = PduStream()
    with pytest.raises(CmppDecodeError, match="Total_Length"):
        stream.feed(struct.pack(">I", length) + b"\0" * 8)  # only the header: no waiting for a body


def test_a_broken_stream_stays_broken():
    stream = PduStream()
    with pytest.raises(CmppDecodeError):
        stream.feed(struct.pack(">III", 13, 0x00000008, 1) + b"\0")
    with pytest.raises(CmppDecodeError):
        stream.feed(encode(ActiveTest(sequence_id=2)))
