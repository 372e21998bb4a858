"""SMS through a China Mobile 云MAS-style HTTP interface: a base64-encoded JSON submit signed with an MD5 `mac`,
answered with a `msgGroup` (the batch id delivery reports and the status query use)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from notify.channels.base import DeliveryReport, Message, SendResult
from notify.channels.httpsms import signing
from notify.channels.httpsms.outcome import exchange

log = logging.getLogger("notify.channels.mas")
SHANGHAI = ZoneInfo("Asia/Shanghai")
DELIVERED = "DELIVRD"


class MasSmsChannel:
    """`submit_url` is the platform's 普通短信 submit (e.g. …/sms/norsubmit); `query_url` a status query by msgGroup
    if the platform offers one (otherwise reports are pushed: `parse_mas_reports`)."""

    kind = "sms"

    def __init__(
        self,
        name: str,
        *,
        submit_url: str,
        ec_name: str,
        ap_id: str,
        secret_key: str,
        sign: str,
        add_serial: str = "",
        query_url: str | None = None,
        retry_codes: Iterable[str] = (),
        timeout: httpx.Timeout | None = None,
        client: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self._submit_url, self._query_url = submit_url, query_url
        self._account = {"ecName": ec_name, "apId": ap_id}
        self._secret, self._sign, self._add_serial = secret_key, sign, add_serial
        self._retry_codes = frozenset(retry_codes)
        self._client = client or httpx.AsyncClient(timeout=timeout or httpx.Timeout(10.0, connect=5.0))
        self._now = now

    def submit_body(self, message: Message) -> dict[str, str]:
        """The JSON the platform receives (before base64), `mac` included."""
        body = self._account | {
            "mobiles": message.to,
            "content": message.text,
            "sign": self._sign,
            "addSerial": self._add_serial,
        }
        return body | {"mac": signing.mas_submit_mac(body, secret_key=self._secret)}

    async def send(self, message: Message) -> SendResult:
        raw = signing.mas_encode(self.submit_body(message))
        answer = await exchange(lambda: self._client.post(self._submit_url, content=raw), now=self._now)
        if isinstance(answer, SendResult):
            return answer
        try:
            data = answer.json()
        except ValueError:
            return SendResult.unknown(f"unreadable answer to a submit: {answer.text[:200]!r}")
        return self.verdict(data)

    def verdict(self, data: Mapping[str, Any]) -> SendResult:
        """success + msgGroup → sent; an rspcod in `retry_codes` → retry; any other rspcod (IllegalMac,
        InvalidUsrOrPwd, IllegalSignId, InvalidMessage, TooManyMobiles, …) → rejected."""
        if data.get("success") is True and data.get("msgGroup"):
            return SendResult.sent(str(data["msgGroup"]))
        code = str(data.get("rspcod", "no rspcod"))
        if code in self._retry_codes:
            return SendResult.retry(f"rspcod {code}")
        return SendResult.rejected(f"rspcod {code}")

    def callback(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryReport]:
        """The reports the platform pushed (云MAS signs nothing: the endpoint's own key authenticates the push)."""
        return parse_mas_reports(body)

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        if self._query_url is None:
            return []
        reports: list[DeliveryReport] = []
        for group in gateway_ids:
            body = self._account | {"msgGroup": group}
            body["mac"] = signing.mas_query_mac(body, secret_key=self._secret)
            try:
                answer = await self._client.post(self._query_url, content=signing.mas_encode(body))
                answer.raise_for_status()
                reports += parse_mas_reports(answer.json())
            except (httpx.HTTPError, ValueError) as error:
                log.warning("mas: no status for %s: %r", group, error)
        return reports

    async def close(self) -> None:
        await self._client.aclose()


def parse_mas_reports(data: Any) -> list[DeliveryReport]:
    """Reports as the platform pushes them or the query returns them: one object, a list, or {"reports": [...]};
    each with msgGroup, reportStatus (DELIVRD when delivered), errorCode and receiveDate (yyyyMMddHHmmss, Beijing)."""
    try:
        if isinstance(data, (bytes, str)):
            data = json.loads(data)
        if isinstance(data, Mapping) and "reports" in data:
            data = data["reports"]
        items = [data] if isinstance(data, Mapping) else list(data)
        return [
            DeliveryReport(
                gateway_id=str(item["msgGroup"]),
                delivered=item.get("reportStatus") == DELIVERED,
                status=str(item.get("errorCode") or item.get("reportStatus") or ""),
                at=_beijing(item.get("receiveDate")),
            )
            for item in items
            if item.get("msgGroup") and item.get("reportStatus")
        ]
    except (TypeError, AttributeError) as error:
        raise ValueError(f"not a 云MAS report: {error}") from error


def _beijing(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value or "", "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        return None
