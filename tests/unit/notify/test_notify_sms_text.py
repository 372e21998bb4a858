"""SMS text is segment-aware: 70 UCS-2 units in one segment, 67 per segment of a long one; shortening keeps the head
(ticket number, deadline, hotline) and the signature; phones of others are masked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.domain import sms_text

pytestmark = pytest.mark.unit

SIGNATURE = "【中国移动】"
HEAD = "工单T-20260302-000123，承诺3月2日11:15前恢复，咨询10086。"

# Chinese, ASCII, full-width punctuation and characters outside the BMP (two UTF-16 units each)
texts = st.text(alphabet=st.sampled_from("障中文abc ，。；,.!😀𠀀"), max_size=400)


@pytest.mark.parametrize(
    ("length", "segments"), [(0, 0), (1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_segment_count_follows_70_then_67(length, segments):
    assert sms_text.segment_count("障" * length) == segments


def test_a_character_outside_the_bmp_costs_two_units_and_is_never_cut():
    text = "障" * 69 + "😀"  # 71 units
    assert sms_text.units(text) == 71
    parts = sms_text.split(text)
    assert len(parts) == 2 and parts[0] == "障" * 67 and parts[1] == "障障😀"


@given(texts)
def test_every_part_holds_at_most_67_units_and_the_parts_join_back(text):
    parts = sms_text.split(text)
    assert "".join(parts) == text
    assert len(parts) == sms_text.segment_count(text)
    if len(parts) == 1:
        assert sms_text.units(parts[0]) <= sms_text.SINGLE
    else:
        assert all(0 < sms_text.units(p) <= sms_text.CONCAT for p in parts)


@given(texts, st.integers(min_value=1, max_value=4))
def test_fit_stays_within_the_budget_and_keeps_the_signature(body, budget):
    out = sms_text.fit(body, signature=SIGNATURE, max_segments=budget)
    assert sms_text.segment_count(out) <= budget
    assert out.endswith(SIGNATURE)
    if sms_text.segment_count(body + SIGNATURE) <= budget:
        assert out == body + SIGNATURE
    else:
        kept = out.removesuffix(SIGNATURE).removesuffix(sms_text.ELLIPSIS)
        assert body.startswith(kept)


@given(st.text(alphabet=st.sampled_from("障，。中"), min_size=200, max_size=400))
def test_a_long_text_keeps_its_head(tail):
    out = sms_text.fit(HEAD + tail, signature=SIGNATURE, max_segments=2)
    assert out.startswith(HEAD) and out.endswith(sms_text.ELLIPSIS + SIGNATURE)


def test_fit_cuts_at_a_clause_boundary_when_one_is_near():
    body = HEAD + "故障原因为光缆被施工挖断，已完成熔接。" + "请关注后续通知" * 10
    out = sms_text.fit(body, signature=SIGNATURE, max_segments=1)
    assert out == HEAD + "故障原因为光缆被施工挖断，已完成熔接。…" + SIGNATURE


def test_fit_drops_a_dangling_comma_at_the_cut():
    out = sms_text.fit("六" * 60 + "，" + "七" * 30, max_segments=1)
    assert out == "六" * 60 + sms_text.ELLIPSIS


def test_fit_cuts_mid_phrase_when_no_boundary_is_within_reach():
    out = sms_text.fit("一二三四五，" + "六" * 80, max_segments=1)
    assert out == "一二三四五，" + "六" * 63 + sms_text.ELLIPSIS
    assert sms_text.units(out) == sms_text.SINGLE


def test_a_signature_that_cannot_fit_is_refused():
    with pytest.raises(ValueError, match="signature"):
        sms_text.fit("x" * 100, signature="签" * 70, max_segments=1)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800138000", "138****8000"),
        ("+8613800138000", "+86*******8000"),
        ("02087654321", "020****4321"),
        ("87654321", "****4321"),
        ("1234", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone_keeps_only_what_identifies_the_number(phone, masked):
    assert sms_text.mask_phone(phone) == masked


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_a_masked_mobile_number_hides_its_middle_four_digits(phone):
    masked = sms_text.mask_phone(phone)
    assert masked[:3] == phone[:3] and masked[-4:] == phone[-4:] and masked[3:7] == "****"
