"""Known answers for the signatures the channels put on the wire: the 云MAS `mac` (field order, secret third), the
ACS3-HMAC-SHA256 canonical request and Authorization, the delivery-report callback signature, the webhook signature,
and the ids derived from the idempotency key."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest

from notify.channels.base import Message
from notify.channels.httpsms import signing
from notify.channels.httpsms.mas import MasSmsChannel
from notify.channels.httpsms.template import TemplateSmsChannel, out_id
from notify.channels.smtp import message_id
from notify.channels.webhook import signature, verify

pytestmark = pytest.mark.unit

BODY_HASH = hashlib.sha256(b'{"a":1}').hexdigest()
HEADERS = {
    "Host": "sms.example.com",
    "Content-Type": "application/json",
    "x-acs-action": "SendSms",
    "x-acs-version": "2017-05-25",
    "x-acs-date": "2026-12-02T04:00:00Z",
    "x-acs-signature-nonce": "n-1",
    "x-acs-content-sha256": BODY_HASH,
    "User-Agent": "not signed",
}
# Written out by hand: method, path, (empty) query, the signed headers as lines, a blank line, their names, the body
CANONICAL = (
    "POST\n/\n\n"
    "content-type:application/json\nhost:sms.example.com\nx-acs-action:SendSms\n"
    f"x-acs-content-sha256:{BODY_HASH}\nx-acs-date:2026-12-02T04:00:00Z\nx-acs-signature-nonce:n-1\n"
    "x-acs-version:2017-05-25\n\n"
    "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n"
    f"{BODY_HASH}"
)


def test_mas_mac_is_md5_of_the_fields_with_the_secret_third():
    body = {
        "ecName": "呼应科技",
        "apId": "huying",
        "mobiles": "13800138000",
        "content": "工单T-1：专线中断",
        "sign": "abcdEF12",
        "addSerial": "",
    }
    assert signing.mas_submit_mac(body, secret_key="secret-key") == "7540a047688c3ce07e4563542e838f64"
    assert signing.mas_submit_mac(body, secret_key="other") != "7540a047688c3ce07e4563542e838f64"


def test_mas_query_mac_covers_the_msg_group():
    body = {"ecName": "e", "apId": "a", "msgGroup": "g-1"}
    assert signing.mas_query_mac(body, secret_key="k") == hashlib.md5(b"eakg-1").hexdigest()


def test_the_mas_body_is_base64_of_utf8_json_and_carries_its_mac():
    channel = MasSmsChannel(
        "sms-mas", submit_url="http://x/sms/norsubmit", ec_name="呼应科技", ap_id="huying", secret_key="s", sign="S1"
    )
    message = Message(notification_id="n1", idempotency_key="k1", to="13800138000", text="工单T-1：专线中断")
    body = channel.submit_body(message)
    assert list(body) == ["ecName", "apId", "mobiles", "content", "sign", "addSerial", "mac"]
    raw = signing.mas_encode(body)
    assert json.loads(base64.b64decode(raw).decode("utf-8")) == body
    assert signing.mas_decode(raw)["content"] == "工单T-1：专线中断"
    assert body["mac"] == hashlib.md5("呼应科技huyings13800138000工单T-1：专线中断S1".encode()).hexdigest()


def test_canonical_request_signs_host_content_type_and_acs_headers_sorted():
    canonical, signed = signing.canonical_request(method="post", path="/", query={}, headers=HEADERS, body=b'{"a":1}')
    assert canonical == CANONICAL
    assert (
        signed == "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    )


def test_the_query_is_sorted_and_percent_encoded():
    canonical, _ = signing.canonical_request(
        method="GET", path="/p", query={"b": "2 3", "a": "中"}, headers={"host": "h"}, body=b""
    )
    assert canonical.split("\n")[2] == "a=%E4%B8%AD&b=2%203"


def test_authorization_is_hmac_sha256_of_the_hashed_canonical_request():
    value = signing.authorization(
        access_key_id="LTAI-1", secret="key-secret", canonical=CANONICAL, signed_headers="content-type;host"
    )
    assert value == (
        "ACS3-HMAC-SHA256 Credential=LTAI-1,SignedHeaders=content-type;host,"
        "Signature=ebbc7804b37d8a57f85e39629faaf92bb56ee5a9a24ab05ccfd02b3a0b4d6599"
    )
    assert signing.parse_authorization(value)["Credential"] == "LTAI-1"
    assert signing.parse_authorization("Bearer x") == {}


def test_a_template_request_verifies_with_the_simulators_check_and_fails_when_tampered():
    from notify.channels.gateway_sim.simulation import check_template_signature

    channel = TemplateSmsChannel(
        "sms-tpl",
        url="http://127.0.0.1:9/sms/send",
        access_key_id="LTAI-1",
        access_key_secret="key-secret",
        sign_name="呼应",
        templates={"receipt": "SMS_1"},
        now=lambda: datetime(2026, 12, 2, 4, 0, tzinfo=UTC),
        nonce=lambda: "n-1",
    )
    message = Message("n1", "k1", "13800138000", "t", template="receipt", params={"ticket": "T-1"})
    headers, body = channel.request(message, "SMS_1")
    assert headers["x-acs-date"] == "2026-12-02T04:00:00Z"
    check = dict(method="POST", path="/sms/send", query={}, headers=headers, keys={"LTAI-1": "key-secret"})
    assert check_template_signature(body=body, **check) is None
    assert check_template_signature(body=body.replace(b"T-1", b"T-2"), **check) == "ContentSHA256NotMatch"
    assert check_template_signature(body=body, **(check | {"keys": {"LTAI-1": "wrong"}})) == "SignatureDoesNotMatch"
    assert json.loads(json.loads(body)["TemplateParam"]) == {"ticket": "T-1"}
    assert json.loads(body)["OutId"] == out_id("k1")


def test_callback_signature_is_hmac_of_timestamp_newline_body():
    body = b'[{"biz_id":"1"}]'
    import hmac

    assert signing.callback_signature("cb", timestamp="1700000000", body=body) == (
        hmac.new(b"cb", b"1700000000\n" + body, hashlib.sha256).hexdigest()
    )


def test_webhook_signature_is_sha256_prefixed_hex_hmac_of_the_body():
    body = '{"x":"中"}'.encode()
    assert signature("whsec", body) == "sha256=81b6ce2351159f16058f62f58d1a999c4016ac637133bfd9d2473f9a1412625c"
    assert verify("whsec", body, signature("whsec", body))
    assert not verify("whsec", body + b" ", signature("whsec", body))
    assert not verify("whsec", body, None)


def test_ids_derived_from_the_idempotency_key_are_stable_and_distinct():
    assert out_id("k1") == out_id("k1") != out_id("k2")
    assert len(out_id("k1")) == 32
    assert message_id("k1", domain="huying.example") == message_id("k1", domain="huying.example")
    assert message_id("k1", domain="huying.example").startswith("<") and message_id("k1", domain="d").endswith("@d>")
    assert message_id("k1", domain="d") != message_id("k2", domain="d")
