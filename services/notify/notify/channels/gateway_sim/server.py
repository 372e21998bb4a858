"""An HTTP SMS gateway on a loopback port speaking both shapes: 云MAS (`POST /sms/norsubmit`, `POST /sms/query`)
and the template platform (`POST /sms/send`, signed callbacks to `callback_url`). It checks every MAC and signature
like the platform, records what it took, and misbehaves on demand (`faults`, `down()` / `up()`).

`GET /_sim/state` and `PUT /_sim/faults` let another process (a benchmark, `make run`) look and steer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from notify.channels.gateway_sim.loopback import LoopbackServer
from notify.channels.gateway_sim.simulation import (
    GatewayFaults,
    Received,
    check_mas_submit,
    check_template_signature,
    check_template_submit,
)
from notify.channels.httpsms import signing

log = logging.getLogger("notify.gateway_sim")


class GatewaySimulator:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        mas_accounts: Mapping[tuple[str, str], str] | None = None,
        access_keys: Mapping[str, str] | None = None,
        templates: Mapping[str, tuple[str, ...]] | None = None,
        callback_url: str | None = None,
        callback_secret: str = "",
        faults: GatewayFaults | None = None,
        embedded: bool = True,
    ) -> None:
        self.mas_accounts = dict(mas_accounts or {})
        self.access_keys = dict(access_keys or {})
        self.templates = dict(templates) if templates is not None else None
        self.callback_url, self.callback_secret = callback_url, callback_secret
        self.faults = faults or GatewayFaults()
        self.received: list[Received] = []
        self.counts: Counter[str] = Counter()
        self.callbacks_sent: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._reports: dict[str, dict[str, Any]] = {}  # msgGroup → its report, once due
        self._nonces: set[str] = set()
        self._released = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = httpx.AsyncClient(timeout=5.0)
        self.app = Starlette(
            routes=[
                Route("/sms/norsubmit", self._mas_submit, methods=["POST"]),
                Route("/sms/query", self._mas_query, methods=["POST"]),
                Route("/sms/send", self._template_submit, methods=["POST"]),
                Route("/_sim/state", self._state, methods=["GET"]),
                Route("/_sim/faults", self._set_faults, methods=["PUT"]),
            ]
        )
        self.http = LoopbackServer(self.app, host=host, port=port, embedded=embedded)

    async def __aenter__(self) -> GatewaySimulator:
        await self.up()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        return self.http.port

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def listening(self) -> bool:
        return self.http.listening

    async def up(self) -> None:
        """Listen (again, on the same port after `down()`)."""
        self._released = asyncio.Event()
        await self.http.up()

    async def down(self) -> None:
        """Stop listening: connections are refused until `up()`. Stalled requests are cut; reports still go out."""
        self._released.set()
        await self.http.down()

    async def close(self) -> None:
        await self.down()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.aclose()

    async def serve_forever(self) -> None:
        await self.up()
        await self.http.wait()

    def twice(self) -> list[tuple[object, ...]]:
        """What a recipient would have seen more than once."""
        return [what for what, n in Counter(r.what for r in self.received).items() if n > 1]

    # --- the 云MAS shape ---

    async def _mas_submit(self, request: Request) -> Response:
        self.counts["mas.requests"] += 1
        if (forced := await self._forced(request, "mas")) is not None:
            return forced
        try:
            body = signing.mas_decode(await request.body())
        except ValueError:
            return self._mas_error("InvalidMessage")
        code = self.faults.mas_rspcod or check_mas_submit(body, accounts=self.mas_accounts)
        if code is not None:
            return self._mas_error(code)
        group = f"{time.strftime('%Y%m%d%H%M%S')}{next(self._ids):08d}"
        taken = Received("mas", body["mobiles"], group, text=body["content"], sign=body["sign"])
        return await self._take(taken, {"success": True, "rspcod": "success", "msgGroup": group})

    async def _mas_query(self, request: Request) -> Response:
        self.counts["mas.queries"] += 1
        try:
            body = signing.mas_decode(await request.body())
            secret = self.mas_accounts[(body["ecName"], body["apId"])]
            good = signing.same(body["mac"], signing.mas_query_mac(body, secret_key=secret))
        except (ValueError, KeyError, TypeError):
            good = False
        if not good:
            return self._mas_error("IllegalMac")
        report = self._reports.get(body["msgGroup"])
        return JSONResponse({"success": True, "rspcod": "success", "reports": [report] if report else []})

    def _mas_error(self, code: str) -> Response:
        self.counts[f"mas.{code}"] += 1
        return JSONResponse({"success": False, "rspcod": code, "msgGroup": ""})

    # --- the template shape ---

    async def _template_submit(self, request: Request) -> Response:
        self.counts["template.requests"] += 1
        if (forced := await self._forced(request, "template")) is not None:
            return forced
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        bad = check_template_signature(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers=headers,
            body=raw,
            keys=self.access_keys,
        )
        nonce = headers.get("x-acs-signature-nonce", "")
        if bad is None and nonce in self._nonces:
            bad = "SignatureNonceUsed"
        if bad is not None:
            return self._template_error(bad, status=400 if bad != "InvalidAccessKeyId.NotFound" else 404)
        self._nonces.add(nonce)
        try:
            body = json.loads(raw)
        except ValueError:
            return self._template_error("InvalidParameter", status=400)
        code = self.faults.template_code or check_template_submit(body, templates=self.templates)
        if code is not None:
            return self._template_error(code, status=200)
        biz_id = f"{next(self._ids):06d}^{int(time.time() * 1000)}"
        taken = Received(
            "template",
            body["PhoneNumbers"],
            biz_id,
            template_code=body["TemplateCode"],
            params=json.loads(body.get("TemplateParam") or "{}"),
            out_id=body.get("OutId"),
            sign=body.get("SignName"),
        )
        answer = {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": nonce}
        return await self._take(taken, answer)

    def _template_error(self, code: str, *, status: int) -> Response:
        self.counts[f"template.{code}"] += 1
        return JSONResponse({"Code": code, "Message": code, "RequestId": ""}, status_code=status)

    # --- shared ---

    async def _forced(self, request: Request, shape: str) -> Response | None:
        faults = self.faults
        if faults.stall is not None and not faults.stall_records:
            await self._stall(faults.stall)
        status = faults.take_status()
        if status is None:
            return None
        self.counts[f"{shape}.http{status}"] += 1
        headers = {"Retry-After": faults.retry_after} if faults.retry_after else None
        return JSONResponse({"Code": f"HTTP{status}", "success": False}, status_code=status, headers=headers)

    async def _take(self, taken: Received, answer: dict[str, Any]) -> Response:
        self.received.append(taken)
        self.counts[f"{taken.shape}.taken"] += 1
        self._spawn(self._report(taken, status=self.faults.report_status, delay=self.faults.report_delay))
        if self.faults.stall is not None and self.faults.stall_records:
            await self._stall(self.faults.stall)
        return JSONResponse(answer)

    async def _stall(self, seconds: float) -> None:
        self.counts["stalled"] += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), None if seconds == float("inf") else seconds)
        if self._released.is_set():
            raise ConnectionAbortedError("the gateway went down mid-request")

    async def _report(self, taken: Received, *, status: str, delay: float) -> None:
        await asyncio.sleep(delay)
        done = time.strftime("%Y%m%d%H%M%S")
        if taken.shape == "mas":
            self._reports[taken.gateway_id] = {
                "msgGroup": taken.gateway_id,
                "mobile": taken.phone,
                "reportStatus": status,
                "errorCode": status,
                "receiveDate": done,
            }
            return
        if self.callback_url is None:
            return
        item = {
            "biz_id": taken.gateway_id,
            "out_id": taken.out_id,
            "phone_number": taken.phone,
            "success": status == "DELIVRD",
            "err_code": "DELIVERED" if status == "DELIVRD" else status,
            "err_msg": "用户接收成功" if status == "DELIVRD" else "失败",
            "report_time": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        body = json.dumps([item], ensure_ascii=False).encode("utf-8")
        stamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-sms-timestamp": stamp,
            "x-sms-signature": signing.callback_signature(self.callback_secret, timestamp=stamp, body=body),
        }
        try:
            answer = await self._http.post(self.callback_url, content=body, headers=headers)
            self.callbacks_sent.append(item | {"answer": answer.status_code})
        except httpx.HTTPError as error:
            log.warning("gateway sim: callback for %s failed: %r", taken.gateway_id, error)
            self.counts["callbacks_failed"] += 1

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _state(self, request: Request) -> Response:
        return JSONResponse(
            {
                "received": [dataclasses.asdict(r) for r in self.received],
                "counts": dict(self.counts),
                "faults": _faults_json(self.faults),
            }
        )

    async def _set_faults(self, request: Request) -> Response:
        try:
            values = await request.json()
            if values.get("stall") == "inf":
                values["stall"] = float("inf")
            self.faults = GatewayFaults(**values)
        except (ValueError, TypeError, AttributeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(_faults_json(self.faults))


def _faults_json(faults: GatewayFaults) -> dict[str, Any]:
    values = dataclasses.asdict(faults)
    if faults.never_answers:
        values["stall"] = "inf"  # JSON has no infinity
    return values
