"""UCS-2 segmentation: 70 characters fit one SMS, 67 per segment of a long one with a 6-octet concatenation header;
whatever the text, the segments put back together give exactly the text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notify.channels.cmpp import signed
from notify.channels.cmpp import text as sms

pytestmark = pytest.mark.unit


def reassemble(segments: list[sms.Segment]) -> str:
    box = sms.Reassembler()
    whole = [box.add("13800138000", sms.parse(s.content, udhi=s.udhi)) for s in segments]
    assert all(w is None for w in whole[:-1])
    assert box.incomplete == 0
    return sms.decode_text(whole[-1], 8)


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (67 * 3, 3), (67 * 3 + 1, 4)]
)
def test_chinese_text_costs_the_specified_number_of_segments(length, segments):
    text = "障" * length
    assert sms.segment_count(text) == segments
    assert len(sms.split(text, reference=1)) == segments


def test_a_single_segment_has_no_header_and_full_140_octets():
    [segment] = sms.split("中" * 70, reference=9)
    assert (segment.udhi, segment.total, segment.number) == (0, 1, 1)
    assert segment.content == "中".encode("utf-16-be") * 70


def test_a_long_message_carries_05_00_03_ref_total_n():
    segments = sms.split("中" * 100, reference=0x2A)
    assert [s.content[:6] for s in segments] == [bytes.fromhex("0500032a0201"), bytes.fromhex("0500032a0202")]
    assert [len(s.content) for s in segments] == [140, 6 + 2 * 33]
    assert all(s.udhi == 1 and s.total == 2 for s in segments)


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=600)


@settings(max_examples=300, deadline=None)
@given(texts, st.integers(0, 255))
def test_segments_reassemble_to_exactly_the_text(text, reference):
    segments = sms.split(text, reference=reference)
    assert all(len(s.content) <= sms.MAX_CONTENT for s in segments)
    assert [s.number for s in segments] == list(range(1, len(segments) + 1))
    assert reassemble(segments) == text
    assert len(segments) == sms.segment_count(text)


@settings(max_examples=200, deadline=None)
@given(texts, st.randoms(use_true_random=False))
def test_segments_in_any_order_reassemble(text, rnd):
    segments = sms.split(text, reference=7)
    rnd.shuffle(segments)
    box = sms.Reassembler()
    results = [box.add("k", sms.parse(s.content, udhi=s.udhi)) for s in segments]
    assert sms.decode_text(results[-1], 8) == text


def test_a_character_outside_the_bmp_is_never_cut_in_half():
    text = "中" * 66 + "😀" + "中" * 10  # the emoji's two units would straddle the 67-unit boundary
    segments = sms.split(text, reference=1)
    for s in segments:
        s.content[6:].decode("utf-16-be")  # each segment decodes on its own
    assert reassemble(segments) == text


def test_a_16_bit_reference_header_is_read():
    part = sms.parse(bytes.fromhex("060804abcd0302") + b"\x4e\x2d", udhi=1)
    assert (part.reference, part.total, part.number, part.payload) == (0xABCD, 3, 2, b"\x4e\x2d")


def test_a_cut_short_header_is_an_error():
    with pytest.raises(ValueError):
        sms.parse(bytes.fromhex("0500"), udhi=1)


def test_empty_text_is_refused():
    with pytest.raises(ValueError):
        sms.split("", reference=0)


def test_signature_goes_at_the_end_unless_asked_and_is_bracketed_once():
    assert signed("单号T1", "呼应") == "单号T1【呼应】"
    assert signed("单号T1", "【呼应】", at="start") == "【呼应】单号T1"
    assert signed("单号T1", "") == "单号T1"
