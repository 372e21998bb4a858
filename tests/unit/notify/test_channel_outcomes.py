"""What each failure means for a send: HTTP statuses and transport errors, platform codes, SMTP replies by stage,
CMPP errors; and the delivery-report parsers (a callback is taken only with a good, fresh signature)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import aiosmtplib
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.channels.base import Message, Outcome
from notify.channels.cmpp import CmppConnectError, CmppNotSent, CmppOutcomeUnknown, CmppRejected, StatusReport
from notify.channels.cmpp_channel import delivery_report, verdict
from notify.channels.httpsms import outcome, signing
from notify.channels.httpsms.mas import MasSmsChannel, parse_mas_reports
from notify.channels.httpsms.template import CallbackRejected, TemplateSmsChannel, parse_callback
from notify.channels.outbox import OutboxChannel
from notify.channels.smtp import Stage
from notify.channels.smtp import outcome as smtp_outcome

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
MESSAGE = Message("n1", "k1", "13800138000", "工单T-1", template="receipt", params={"ticket": "T-1"})
REQUEST = httpx.Request("POST", "http://gw/")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (429, Outcome.RETRY),
        (408, Outcome.RETRY),
        (504, Outcome.UNKNOWN),
        (400, Outcome.REJECTED),
        (401, Outcome.REJECTED),
        (403, Outcome.REJECTED),
        (404, Outcome.REJECTED),
        (410, Outcome.REJECTED),
        (422, Outcome.REJECTED),
    ],
)
def test_http_status_verdicts(status, expected):
    assert outcome.for_status(status, headers={}, now=NOW).outcome is expected


@given(st.integers(400, 599))
def test_every_error_status_has_one_verdict_and_only_5xx_and_throttling_retry(status):
    result = outcome.for_status(status, headers={}, now=NOW)
    retry = (status >= 500 and status != 504) or status in (408, 425, 429)
    assert (result.outcome is Outcome.RETRY) == retry
    assert result.outcome in (Outcome.RETRY, Outcome.REJECTED, Outcome.UNKNOWN)
    assert str(status) in (result.error or "")


def test_retry_after_in_seconds_or_as_a_date_is_honoured():
    assert outcome.for_status(429, headers={"retry-after": "7"}, now=NOW).retry_after == 7.0
    date = "Wed, 02 Dec 2026 04:00:30 GMT"
    assert outcome.for_status(503, headers={"retry-after": date}, now=NOW).retry_after == 30.0
    assert outcome.retry_after("Wed, 02 Dec 2026 03:00:00 GMT", now=NOW) == 0.0  # in the past: now
    assert outcome.retry_after("soon", now=NOW) is None
    assert outcome.retry_after(None, now=NOW) is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("refused", request=REQUEST), Outcome.RETRY),
        (httpx.ConnectTimeout("slow", request=REQUEST), Outcome.RETRY),
        (httpx.PoolTimeout("busy", request=REQUEST), Outcome.RETRY),
        (httpx.WriteTimeout("slow", request=REQUEST), Outcome.RETRY),
        (httpx.ReadTimeout("no answer", request=REQUEST), Outcome.UNKNOWN),
        (httpx.RemoteProtocolError("hung up", request=REQUEST), Outcome.UNKNOWN),
        (httpx.ReadError("reset", request=REQUEST), Outcome.UNKNOWN),
    ],
)
def test_transport_errors_split_at_whether_the_request_was_written(error, expected):
    assert outcome.for_exception(error).outcome is expected


def _mas(handler) -> MasSmsChannel:
    return MasSmsChannel(
        "sms-mas",
        submit_url="http://gw/sms/norsubmit",
        ec_name="e",
        ap_id="a",
        secret_key="s",
        sign="S",
        retry_codes=("SystemBusy",),
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"success": True, "rspcod": "success", "msgGroup": "g1"}, Outcome.SENT),
        ({"success": False, "rspcod": "IllegalMac"}, Outcome.REJECTED),
        ({"success": False, "rspcod": "InvalidMessage"}, Outcome.REJECTED),
        ({"success": False, "rspcod": "SystemBusy"}, Outcome.RETRY),
        ({"success": True}, Outcome.REJECTED),  # success without a msgGroup is nothing we can track
    ],
)
async def test_mas_answers(answer, expected):
    channel = _mas(lambda request: httpx.Response(200, json=answer))
    result = await channel.send(MESSAGE)
    assert result.outcome is expected
    if expected is Outcome.SENT:
        assert result.gateway_ids == ("g1",)
    await channel.close()


async def test_an_unreadable_2xx_answer_is_unknown_not_a_retry():
    channel = _mas(lambda request: httpx.Response(200, text="<html>ok</html>"))
    assert (await channel.send(MESSAGE)).outcome is Outcome.UNKNOWN


def _template(handler, **kwargs) -> TemplateSmsChannel:
    return TemplateSmsChannel(
        "sms-tpl",
        url="http://gw/sms/send",
        access_key_id="id",
        access_key_secret="s",
        sign_name="呼应",
        templates={"receipt": "SMS_1"},
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        (200, {"Code": "OK", "BizId": "b1"}, Outcome.SENT),
        (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"}, Outcome.REJECTED),
        (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL"}, Outcome.RETRY),
        (400, {"Code": "Throttling.User"}, Outcome.RETRY),  # a throttling code wins over its 4xx
        (400, {"Code": "SignatureDoesNotMatch"}, Outcome.REJECTED),
        (503, {"Code": "ServiceUnavailable"}, Outcome.RETRY),
    ],
)
async def test_template_answers(status, answer, expected):
    channel = _template(lambda request: httpx.Response(status, json=answer))
    assert (await channel.send(MESSAGE)).outcome is expected


async def test_a_template_without_a_code_is_rejected_without_a_request():
    calls = []
    channel = _template(lambda request: calls.append(request) or httpx.Response(200, json={"Code": "OK"}))
    result = await channel.send(Message("n1", "k1", "13800138000", "t", template="not-mapped"))
    assert result.outcome is Outcome.REJECTED and calls == []


def _callback(items, *, secret="cb", at=NOW, tamper=b""):
    body = json.dumps(items).encode()
    stamp = str(int(at.timestamp()))
    headers = {
        "X-Sms-Timestamp": stamp,
        "X-Sms-Signature": signing.callback_signature(secret, timestamp=stamp, body=body),
    }
    return body + tamper, headers


def test_a_signed_callback_yields_its_reports():
    item = {"biz_id": "b1", "success": True, "err_code": "DELIVERED", "report_time": "2026-12-02 12:00:05"}
    failed = {"biz_id": "b2", "success": False, "err_code": "MK:0001"}
    body, headers = _callback([item, failed])
    reports = parse_callback(body, headers, secret="cb", now=NOW)
    assert [(r.gateway_id, r.delivered, r.status) for r in reports] == [
        ("b1", True, "DELIVERED"),
        ("b2", False, "MK:0001"),
    ]
    assert reports[0].at is not None and reports[0].at.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "tampered", "stale", "unsigned"],
)
def test_a_callback_that_is_not_genuine_is_refused(case):
    items = [{"biz_id": "b1", "success": True}]
    body, headers = _callback(
        items,
        secret="other" if case == "wrong secret" else "cb",
        tamper=b" " if case == "tampered" else b"",
        at=NOW - timedelta(minutes=10) if case == "stale" else NOW,
    )
    if case == "unsigned":
        headers = {}
    with pytest.raises(CallbackRejected):
        parse_callback(body, headers, secret="cb", now=NOW)


def test_the_channel_takes_callbacks_only_with_a_secret():
    channel = _template(lambda r: httpx.Response(200), callback_secret="cb", now=lambda: NOW)
    body, headers = _callback([{"biz_id": "b1", "success": True}])
    assert channel.callback(body, headers)[0].gateway_id == "b1"
    with pytest.raises(CallbackRejected):
        _template(lambda r: httpx.Response(200)).callback(body, headers)


def test_mas_reports_in_every_shape_the_platform_uses():
    item = {"msgGroup": "g1", "reportStatus": "DELIVRD", "errorCode": "DELIVRD", "receiveDate": "20261202120005"}
    bad = {"msgGroup": "g2", "reportStatus": "UNDELIV", "errorCode": "MK:0012"}
    assert [r.delivered for r in parse_mas_reports([item, bad])] == [True, False]
    assert parse_mas_reports({"reports": [item]})[0].at == datetime(2026, 12, 2, 4, 0, 5, tzinfo=UTC)
    assert parse_mas_reports(json.dumps(item))[0].status == "DELIVRD"
    assert parse_mas_reports({"msgGroup": "g3"}) == []  # no status yet
    with pytest.raises(ValueError):
        parse_mas_reports(b"42")


@pytest.mark.parametrize(
    ("error", "stage", "expected"),
    [
        (aiosmtplib.SMTPConnectError("refused"), Stage.CONNECT, Outcome.RETRY),
        (aiosmtplib.SMTPReadTimeoutError("slow"), Stage.CONNECT, Outcome.RETRY),
        (aiosmtplib.SMTPAuthenticationError(535, "bad login"), Stage.CONNECT, Outcome.REJECTED),
        (aiosmtplib.SMTPAuthenticationError(454, "try later"), Stage.CONNECT, Outcome.RETRY),
        (aiosmtplib.SMTPSenderRefused(451, "later", "a@b"), Stage.ENVELOPE, Outcome.RETRY),
        (aiosmtplib.SMTPRecipientRefused(550, "no such user", "x@y"), Stage.ENVELOPE, Outcome.REJECTED),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(452, "full", "x@y")]),
            Stage.ENVELOPE,
            Outcome.RETRY,
        ),
        (aiosmtplib.SMTPServerDisconnected("gone"), Stage.ENVELOPE, Outcome.RETRY),
        (aiosmtplib.SMTPDataError(554, "spam"), Stage.DATA, Outcome.REJECTED),
        (aiosmtplib.SMTPDataError(451, "later"), Stage.DATA, Outcome.RETRY),
        (aiosmtplib.SMTPReadTimeoutError("no 250"), Stage.DATA, Outcome.UNKNOWN),
        (aiosmtplib.SMTPServerDisconnected("gone"), Stage.DATA, Outcome.UNKNOWN),
        (ConnectionResetError("reset"), Stage.DATA, Outcome.UNKNOWN),
        (aiosmtplib.SMTPNotSupported("no STARTTLS"), Stage.CONNECT, Outcome.REJECTED),
    ],
)
def test_smtp_verdicts_by_reply_code_and_stage(error, stage, expected):
    assert smtp_outcome(error, stage=stage).outcome is expected


@pytest.mark.parametrize(
    ("error", "expected", "ids"),
    [
        (CmppNotSent("no slot"), Outcome.RETRY, ()),
        (CmppConnectError("refused"), Outcome.RETRY, ()),
        (CmppRejected(8), Outcome.RETRY, ()),
        (CmppRejected(1), Outcome.REJECTED, ()),
        (CmppRejected(6), Outcome.REJECTED, ()),
        (CmppOutcomeUnknown("no SUBMIT_RESP", accepted=(11, 12)), Outcome.UNKNOWN, ("11", "12")),
        (CmppOutcomeUnknown("no SUBMIT_RESP"), Outcome.UNKNOWN, ()),
    ],
)
def test_cmpp_verdicts(error, expected, ids):
    result = verdict(error)
    assert result.outcome is expected and result.gateway_ids == ids


def test_a_cmpp_status_report_becomes_a_delivery_report():
    report = delivery_report(StatusReport(msg_id=42, stat="UNDELIV", done_time="2612021205"))
    assert (report.gateway_id, report.delivered, report.status) == ("42", False, "UNDELIV")
    assert report.at == datetime(2026, 12, 2, 4, 5, tzinfo=UTC)
    assert delivery_report(StatusReport(msg_id=1, stat="DELIVRD")).delivered


async def test_the_outbox_records_and_answers_sent_with_the_notification_id():
    outbox = OutboxChannel()
    result = await outbox.send(MESSAGE)
    assert result.outcome is Outcome.SENT and result.gateway_ids == ("n1",)
    assert outbox.recorded == [MESSAGE]
    assert (await outbox.query(("n1",)))[0].delivered
