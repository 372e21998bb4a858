"""SMS through a template-code + parameters platform (the shape of Aliyun's SendSms): our template id maps to the
platform's approved template code, the parameters go as JSON, the request is signed with ACS3-HMAC-SHA256, the
answer carries a BizId, and delivery reports come back as signed callbacks (`parse_callback`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from notify.channels.base import DeliveryReport, Message, SendResult
from notify.channels.httpsms import signing
from notify.channels.httpsms.outcome import for_exception, for_status

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The platform's "later" codes (flow control on the account or on one number): retried, never rejected.
RETRY_CODES = frozenset({"Throttling", "Throttling.User", "isv.BUSINESS_LIMIT_CONTROL", "ServiceUnavailable"})
CALLBACK_MAX_SKEW = 300.0  # seconds a callback's timestamp may differ from our clock (our choice: 5 minutes)


def out_id(idempotency_key: str) -> str:
    """The client message id the platform echoes in its reports: stable for one notification, 32 hex digits."""
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]


class TemplateSmsChannel:
    kind = "sms"

    def __init__(
        self,
        name: str,
        *,
        url: str,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: Mapping[str, str],
        action: str = "SendSms",
        version: str = "2017-05-25",
        retry_codes: Iterable[str] = RETRY_CODES,
        callback_secret: str | None = None,
        timeout: httpx.Timeout | None = None,
        client: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.name = name
        self._url = httpx.URL(url)
        self._key_id, self._secret, self._sign_name = access_key_id, access_key_secret, sign_name
        self._templates = dict(templates)
        self._action, self._version = action, version
        self._retry_codes = frozenset(retry_codes)
        self._callback_secret = callback_secret
        self._client = client or httpx.AsyncClient(timeout=timeout or httpx.Timeout(10.0, connect=5.0))
        self._now, self._nonce = now, nonce

    def request(self, message: Message, code: str) -> tuple[dict[str, str], bytes]:
        """The signed headers and the body of one SendSms."""
        body = json.dumps(
            {
                "PhoneNumbers": message.to,
                "SignName": self._sign_name,
                "TemplateCode": code,
                "TemplateParam": json.dumps(dict(message.params), ensure_ascii=False, sort_keys=True),
                "OutId": out_id(message.idempotency_key),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        headers = {
            "host": self._url.netloc.decode("ascii"),
            "content-type": "application/json",
            "x-acs-action": self._action,
            "x-acs-version": self._version,
            "x-acs-date": self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": self._nonce(),
            "x-acs-content-sha256": signing.sha256_hex(body),
        }
        canonical, signed = signing.canonical_request(
            method="POST", path=self._url.path, query=dict(self._url.params), headers=headers, body=body
        )
        headers["authorization"] = signing.authorization(
            access_key_id=self._key_id, secret=self._secret, canonical=canonical, signed_headers=signed
        )
        return headers, body

    async def send(self, message: Message) -> SendResult:
        code = self._templates.get(message.template or "")
        if code is None:
            return SendResult.rejected(f"no template code configured for template {message.template!r}")
        headers, body = self.request(message, code)
        try:
            answer = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return for_exception(error)
        data = _json(answer)
        platform_code = str(data.get("Code", "")) if data is not None else ""
        if platform_code in self._retry_codes:
            return SendResult.retry(f"code {platform_code}")
        if not answer.is_success:
            return for_status(answer.status_code, headers=answer.headers, now=self._now(), detail=platform_code)
        if data is None:
            return SendResult.unknown(f"unreadable answer to a submit: {answer.text[:200]!r}")
        if platform_code == "OK" and data.get("BizId"):
            return SendResult.sent(str(data["BizId"]))
        return SendResult.rejected(f"code {platform_code or 'missing'}: {data.get('Message', '')}")

    def callback(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryReport]:
        """The reports in a delivery-report callback the platform POSTed (CallbackRejected if not genuine)."""
        if self._callback_secret is None:
            raise CallbackRejected(f"{self.name}: no callback_secret configured, callbacks are not accepted")
        return parse_callback(body, headers, secret=self._callback_secret, now=self._now())

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        return []  # reports arrive as callbacks (parse_callback); the platform's query needs the phone and date

    async def close(self) -> None:
        await self._client.aclose()


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class CallbackRejected(Exception):
    """A delivery-report callback that is not from the platform (bad or missing signature, stale) or not readable."""


def parse_callback(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str,
    now: datetime,
    max_skew: float = CALLBACK_MAX_SKEW,
) -> list[DeliveryReport]:
    """The reports in one callback, after checking `X-Sms-Signature` = HMAC-SHA256(secret, timestamp + "\\n" + body)
    with `X-Sms-Timestamp` (Unix seconds) within `max_skew` of `now`. The body is a JSON list of
    {biz_id, out_id, phone_number, success, err_code, err_msg, report_time ("yyyy-MM-dd HH:mm:ss", Beijing)}."""
    lower = {k.lower(): v for k, v in headers.items()}
    stamp, signature = lower.get("x-sms-timestamp", ""), lower.get("x-sms-signature", "")
    if not stamp.isdigit() or not signature:
        raise CallbackRejected("missing X-Sms-Timestamp or X-Sms-Signature")
    if abs(now.timestamp() - int(stamp)) > max_skew:
        raise CallbackRejected("stale callback timestamp")
    if not signing.same(signature, signing.callback_signature(secret, timestamp=stamp, body=body)):
        raise CallbackRejected("bad callback signature")
    try:
        items = json.loads(body)
        return [
            DeliveryReport(
                gateway_id=str(item["biz_id"]),
                delivered=item.get("success") is True,
                status=str(item.get("err_code") or ("DELIVERED" if item.get("success") is True else "UNKNOWN")),
                at=_beijing(item.get("report_time")),
            )
            for item in items
        ]
    except (ValueError, TypeError, KeyError) as error:
        raise CallbackRejected(f"unreadable callback: {error!r}") from error


def _beijing(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value or "", "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        return None
