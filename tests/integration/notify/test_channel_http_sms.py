"""Both HTTP SMS shapes against the gateway simulator over real HTTP on loopback: the simulator checks every MAC and
signature like the platform, and is told to fail (503), throttle (429 + Retry-After), refuse (400), stall, report
late, or be down. Whatever the outcome, a message the gateway took is never taken twice by these channels."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from notify.channels.base import DeliveryReport, Message, Outcome, SendResult
from notify.channels.gateway_sim import GatewayFaults, GatewaySimulator, LoopbackServer
from notify.channels.httpsms import CallbackRejected, MasSmsChannel, TemplateSmsChannel
from tests.support.kafka import wait_until

pytestmark = pytest.mark.integration

EC, AP, MAS_SECRET = "呼应科技", "huying", "mas-secret"
KEY_ID, KEY_SECRET, CALLBACK_SECRET = "LTAI-test", "tpl-secret", "cb-secret"
TEXT = "工单T-20261202-000123：专线中断，承诺12:30前恢复，咨询10086。"
TIMEOUT = httpx.Timeout(1.0, connect=1.0)


def message(n: int = 1, **overrides) -> Message:
    values = dict(
        notification_id=f"n{n}",
        idempotency_key=f"evt-{n}|customer|13800138000|sms",
        to="13800138000",
        text=TEXT,
        template="receipt",
        params={"ticket": "T-20261202-000123", "deadline": "12:30"},
    )
    return Message(**(values | overrides))


@pytest.fixture
async def reports_receiver() -> AsyncIterator[tuple[LoopbackServer, list[DeliveryReport], list[str]]]:
    """Our side of the delivery-report callbacks: checks each with the channel's own parser."""
    taken: list[DeliveryReport] = []
    refused: list[str] = []
    parser = TemplateSmsChannel(
        "parser",
        url="http://unused/",
        access_key_id=KEY_ID,
        access_key_secret=KEY_SECRET,
        sign_name="呼应",
        templates={},
        callback_secret=CALLBACK_SECRET,
    )

    async def receive(request: Request) -> JSONResponse:
        try:
            taken.extend(parser.callback(await request.body(), request.headers))
        except CallbackRejected as error:
            refused.append(str(error))
            return JSONResponse({"code": 401, "msg": str(error)}, status_code=401)
        return JSONResponse({"code": 0, "msg": "成功"})

    async with LoopbackServer(Starlette(routes=[Route("/reports", receive, methods=["POST"])])) as server:
        yield server, taken, refused
    await parser.close()


@pytest.fixture
async def gateway(reports_receiver) -> AsyncIterator[GatewaySimulator]:
    server, _, _ = reports_receiver
    async with GatewaySimulator(
        mas_accounts={(EC, AP): MAS_SECRET},
        access_keys={KEY_ID: KEY_SECRET},
        templates={"SMS_4001": ("ticket", "deadline")},
        callback_url=f"{server.url}/reports",
        callback_secret=CALLBACK_SECRET,
    ) as simulator:
        yield simulator


@pytest.fixture
async def mas(gateway) -> AsyncIterator[MasSmsChannel]:
    channel = mas_channel(gateway)
    yield channel
    await channel.close()


@pytest.fixture
async def template(gateway) -> AsyncIterator[TemplateSmsChannel]:
    channel = template_channel(gateway)
    yield channel
    await channel.close()


def mas_channel(gateway: GatewaySimulator, *, secret: str = MAS_SECRET) -> MasSmsChannel:
    return MasSmsChannel(
        "sms-mas",
        submit_url=f"{gateway.url}/sms/norsubmit",
        query_url=f"{gateway.url}/sms/query",
        ec_name=EC,
        ap_id=AP,
        secret_key=secret,
        sign="SIGN01",
        timeout=TIMEOUT,
    )


def template_channel(gateway: GatewaySimulator, *, secret: str = KEY_SECRET) -> TemplateSmsChannel:
    return TemplateSmsChannel(
        "sms-tpl",
        url=f"{gateway.url}/sms/send",
        access_key_id=KEY_ID,
        access_key_secret=secret,
        sign_name="呼应",
        templates={"receipt": "SMS_4001", "dispatch": "SMS_UNKNOWN"},
        timeout=TIMEOUT,
    )


async def test_a_mas_submit_is_taken_with_its_mac_and_its_report_is_queried_by_msg_group(gateway, mas):
    gateway.faults.report_delay = 0.3
    result = await mas.send(message())
    assert result.outcome is Outcome.SENT
    (taken,) = gateway.received
    assert (taken.shape, taken.phone, taken.text, taken.sign) == ("mas", "13800138000", TEXT, "SIGN01")
    assert result.gateway_ids == (taken.gateway_id,)
    assert await mas.query(result.gateway_ids) == []  # the report is late: nothing yet

    async def delivered():
        return await mas.query(result.gateway_ids)

    (report,) = await wait_until(delivered, timeout=5, interval=0.05)
    assert (report.gateway_id, report.delivered, report.status) == (taken.gateway_id, True, "DELIVRD")


async def test_a_mas_submit_with_a_wrong_secret_fails_the_mac_check_and_is_rejected(gateway):
    channel = mas_channel(gateway, secret="not-the-secret")
    result = await channel.send(message())
    await channel.close()
    assert result.outcome is Outcome.REJECTED and "IllegalMac" in (result.error or "")
    assert gateway.counts["mas.IllegalMac"] == 1 and gateway.received == []


async def test_an_undelivered_mas_report_says_so(gateway, mas):
    gateway.faults.report_status = "UNDELIV"
    result = await mas.send(message())

    async def reported():
        return await mas.query(result.gateway_ids)

    (report,) = await wait_until(reported, timeout=5, interval=0.05)
    assert not report.delivered and report.status == "UNDELIV"


async def test_a_template_send_is_signed_taken_and_reported_back_by_a_late_signed_callback(
    gateway, template, reports_receiver
):
    _, taken_reports, refused = reports_receiver
    gateway.faults.report_delay = 0.5
    result = await template.send(message())
    assert result.outcome is Outcome.SENT
    (taken,) = gateway.received
    assert (taken.template_code, dict(taken.params or {})) == ("SMS_4001", dict(message().params))
    assert result.gateway_ids == (taken.gateway_id,)
    assert taken_reports == []  # late: not yet

    async def reported():
        return taken_reports

    (report,) = await wait_until(reported, timeout=5, interval=0.05)
    assert (report.gateway_id, report.delivered) == (taken.gateway_id, True)
    assert refused == []


async def test_a_forged_callback_is_refused_by_our_receiver(gateway, template, reports_receiver):
    _, taken_reports, refused = reports_receiver
    gateway.callback_secret = "a-forger"
    await template.send(message())

    async def rejected():
        return refused

    await wait_until(rejected, timeout=5, interval=0.05)
    assert taken_reports == [] and "signature" in refused[0]


async def test_a_template_send_with_a_wrong_secret_fails_the_signature_check(gateway):
    channel = template_channel(gateway, secret="not-the-secret")
    result = await channel.send(message())
    await channel.close()
    assert result.outcome is Outcome.REJECTED
    assert gateway.counts["template.SignatureDoesNotMatch"] == 1 and gateway.received == []


async def test_platform_codes_invalid_is_rejected_and_flow_control_is_retried(gateway, template):
    assert (await template.send(message(to="12345"))).outcome is Outcome.REJECTED  # isv.MOBILE_NUMBER_ILLEGAL
    assert (await template.send(message(template="dispatch"))).outcome is Outcome.REJECTED  # unknown code there
    gateway.faults.template_code = "isv.BUSINESS_LIMIT_CONTROL"
    assert (await template.send(message())).outcome is Outcome.RETRY
    assert gateway.received == []


@pytest.mark.parametrize("shape", ["mas", "template"])
async def test_503_is_a_retry_and_nothing_was_taken(gateway, mas, template, shape):
    channel = mas if shape == "mas" else template
    gateway.faults = GatewayFaults(status=503, times=1)
    first = await channel.send(message())
    assert first.outcome is Outcome.RETRY and "503" in (first.error or "")
    assert gateway.received == []
    assert (await channel.send(message())).outcome is Outcome.SENT  # the gateway is back
    assert len(gateway.received) == 1


@pytest.mark.parametrize("shape", ["mas", "template"])
async def test_429_is_a_retry_after_the_gateways_wait(gateway, mas, template, shape):
    channel = mas if shape == "mas" else template
    gateway.faults = GatewayFaults(status=429, retry_after="7")
    result = await channel.send(message())
    assert result.outcome is Outcome.RETRY and result.retry_after == 7.0


@pytest.mark.parametrize("shape", ["mas", "template"])
async def test_400_is_rejected(gateway, mas, template, shape):
    channel = mas if shape == "mas" else template
    gateway.faults = GatewayFaults(status=400)
    assert (await channel.send(message())).outcome is Outcome.REJECTED


@pytest.mark.parametrize("shape", ["mas", "template"])
async def test_a_gateway_that_takes_the_message_and_never_answers_is_unknown(gateway, mas, template, shape):
    channel = mas if shape == "mas" else template
    gateway.faults = GatewayFaults(stall=math.inf)
    result = await channel.send(message())
    assert result.outcome is Outcome.UNKNOWN and "ReadTimeout" in (result.error or "")
    assert len(gateway.received) == 1  # it did go out: a blind resend would be the second SMS


async def test_an_answer_slower_than_the_read_timeout_is_unknown_and_a_fast_one_sent(gateway, mas):
    gateway.faults = GatewayFaults(stall=1.5)
    assert (await mas.send(message(1))).outcome is Outcome.UNKNOWN
    gateway.faults = GatewayFaults(stall=0.2)
    assert (await mas.send(message(2))).outcome is Outcome.SENT


@pytest.mark.parametrize("shape", ["mas", "template"])
async def test_a_gateway_that_is_down_is_a_retry(gateway, mas, template, shape):
    channel = mas if shape == "mas" else template
    await gateway.down()
    result = await channel.send(message())
    assert result.outcome is Outcome.RETRY and "ConnectError" in (result.error or "")
    await gateway.up()
    assert (await channel.send(message())).outcome is Outcome.SENT


async def test_nothing_listening_at_all_is_a_retry():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = MasSmsChannel(
        "sms-mas",
        submit_url=f"http://127.0.0.1:{port}/sms/norsubmit",
        ec_name=EC,
        ap_id=AP,
        secret_key=MAS_SECRET,
        sign="S",
        timeout=TIMEOUT,
    )
    assert (await channel.send(message())).outcome is Outcome.RETRY
    await channel.close()


async def send_until_settled(channel, msg: Message, *, attempts: int = 50) -> SendResult:
    """What the pipeline does, reduced: resend only on retry, after a short backoff."""
    for _ in range(attempts):
        result = await channel.send(msg)
        if result.outcome is not Outcome.RETRY:
            return result
        await asyncio.sleep(0.05)
    return result


@pytest.mark.parametrize("shape", ["mas", "template"])
async def test_a_gateway_down_under_load_gets_every_message_after_recovery_none_twice(gateway, mas, template, shape):
    channel = mas if shape == "mas" else template
    await gateway.down()
    sends = [
        asyncio.create_task(
            send_until_settled(
                channel, message(n, text=f"{TEXT}#{n}", params={"ticket": f"T-{n}", "deadline": "12:30"})
            )
        )
        for n in range(30)
    ]
    await asyncio.sleep(0.5)
    assert gateway.received == []
    await gateway.up()
    results = await asyncio.gather(*sends)
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert len(gateway.received) == 30 and gateway.twice() == []


async def test_the_simulator_runs_as_a_program_and_is_steered_over_http():
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    program = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "notify.channels.gateway_sim", "--port", str(port), "--mas", f"{EC}:{AP}:{MAS_SECRET}"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:

            async def listening():
                try:
                    return (await http.get(f"{base}/_sim/state")).status_code == 200
                except httpx.HTTPError:
                    return False

            await wait_until(listening, timeout=20, interval=0.1)
            channel = MasSmsChannel(
                "sms-mas",
                submit_url=f"{base}/sms/norsubmit",
                ec_name=EC,
                ap_id=AP,
                secret_key=MAS_SECRET,
                sign="S",
                timeout=TIMEOUT,
            )
            assert (await channel.send(message())).outcome is Outcome.SENT
            assert (await http.put(f"{base}/_sim/faults", json={"status": 503})).status_code == 200
            assert (await channel.send(message())).outcome is Outcome.RETRY
            await channel.close()
            state = (await http.get(f"{base}/_sim/state")).json()
        assert [r["text"] for r in state["received"]] == [TEXT]
        assert state["counts"]["mas.http503"] == 1
    finally:
        program.terminate()
        await asyncio.wait_for(program.wait(), 10)
