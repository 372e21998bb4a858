"""The gateway simulator judges requests like the platforms do, and whatever a channel sends verifies there: any
text, phone and parameters round-trip through the 云MAS MAC and the ACS3 signature; any change breaks them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.channels.base import Message
from notify.channels.gateway_sim.simulation import (
    GatewayFaults,
    check_mas_submit,
    check_template_signature,
    check_template_submit,
)
from notify.channels.httpsms import signing
from notify.channels.httpsms.mas import MasSmsChannel
from notify.channels.httpsms.template import TemplateSmsChannel

pytestmark = pytest.mark.unit

ACCOUNTS = {("呼应科技", "huying"): "mas-secret"}
texts = st.text(alphabet=st.sampled_from("障中文abc ，。；,.!😀𠀀&=%+/?\n"), min_size=1, max_size=200)
phones = st.from_regex(r"1[3-9]\d{9}", fullmatch=True)
params = st.dictionaries(st.sampled_from(["ticket", "deadline", "hotline", "城市"]), texts, max_size=4)


def mas(secret: str = "mas-secret") -> MasSmsChannel:
    return MasSmsChannel(
        "sms-mas",
        submit_url="http://gw/sms/norsubmit",
        ec_name="呼应科技",
        ap_id="huying",
        secret_key=secret,
        sign="S1",
    )


def template(url: str = "http://127.0.0.1:8990/sms/send?region=cn-hangzhou") -> TemplateSmsChannel:
    return TemplateSmsChannel(
        "sms-tpl",
        url=url,
        access_key_id="LTAI",
        access_key_secret="tpl-secret",
        sign_name="呼应",
        templates={"receipt": "SMS_1"},
        now=lambda: datetime(2026, 12, 2, 4, 0, tzinfo=UTC),
    )


@given(phone=phones, text=texts)
def test_any_mas_submit_verifies_and_survives_base64(phone, text):
    body = mas().submit_body(Message("n", "k", phone, text))
    decoded = signing.mas_decode(signing.mas_encode(body))
    assert decoded == body and check_mas_submit(decoded, accounts=ACCOUNTS) is None


@given(phone=phones, text=texts, other=texts)
def test_a_changed_mas_field_breaks_the_mac(phone, text, other):
    body = mas().submit_body(Message("n", "k", phone, text))
    if other != text:
        assert check_mas_submit(body | {"content": other}, accounts=ACCOUNTS) == "IllegalMac"


def test_mas_refusals():
    good = mas().submit_body(Message("n", "k", "13800138000", "t"))
    assert check_mas_submit(mas("wrong").submit_body(Message("n", "k", "13800138000", "t")), accounts=ACCOUNTS) == (
        "IllegalMac"
    )
    assert check_mas_submit(good | {"apId": "x"}, accounts=ACCOUNTS) == "InvalidUsrOrPwd"
    assert check_mas_submit({k: v for k, v in good.items() if k != "mac"}, accounts=ACCOUNTS) == "InvalidMessage"
    bad_phone = mas().submit_body(Message("n", "k", "0571-888", "t"))
    assert check_mas_submit(bad_phone, accounts=ACCOUNTS) == "InvalidMessage"


@given(phone=phones, values=params)
def test_any_template_request_verifies_with_its_query_and_headers(phone, values):
    channel = template()
    headers, body = channel.request(Message("n", "k", phone, "t", template="receipt", params=values), "SMS_1")
    check = check_template_signature(
        method="POST",
        path="/sms/send",
        query={"region": "cn-hangzhou"},
        headers=headers,
        body=body,
        keys={"LTAI": "tpl-secret"},
    )
    assert check is None
    assert json.loads(json.loads(body)["TemplateParam"]) == values


def test_a_changed_signed_header_or_query_breaks_the_signature():
    headers, body = template().request(Message("n", "k", "13800138000", "t", template="receipt"), "SMS_1")
    args = dict(method="POST", path="/sms/send", body=body, keys={"LTAI": "tpl-secret"})
    assert check_template_signature(query={"region": "cn-hangzhou"}, headers=headers, **args) is None
    assert check_template_signature(query={"region": "cn-beijing"}, headers=headers, **args) == "SignatureDoesNotMatch"
    moved = headers | {"x-acs-date": "2026-12-02T05:00:00Z"}
    assert check_template_signature(query={"region": "cn-hangzhou"}, headers=moved, **args) == "SignatureDoesNotMatch"
    assert check_template_signature(query={}, headers={}, **args) == "MissingAuthorization"


def test_template_refusals():
    templates = {"SMS_1": ("ticket",)}
    good = {
        "PhoneNumbers": "13800138000",
        "SignName": "呼应",
        "TemplateCode": "SMS_1",
        "TemplateParam": '{"ticket":"T"}',
    }
    assert check_template_submit(good, templates=templates) is None
    assert check_template_submit(good | {"PhoneNumbers": "110"}, templates=templates) == "isv.MOBILE_NUMBER_ILLEGAL"
    assert check_template_submit(good | {"TemplateCode": "SMS_9"}, templates=templates) == "isv.SMS_TEMPLATE_ILLEGAL"
    missing = good | {"TemplateParam": "{}"}
    assert check_template_submit(missing, templates=templates) == "isv.TEMPLATE_MISSING_PARAMETERS"
    assert check_template_submit(good | {"SignName": ""}, templates=templates) == "isv.SMS_SIGNATURE_ILLEGAL"


def test_a_forced_status_counts_down_and_clears():
    faults = GatewayFaults(status=503, times=2)
    assert [faults.take_status() for _ in range(3)] == [503, 503, None]
    assert faults.status is None
    assert GatewayFaults(status=429).take_status() == 429  # without `times`: until changed
