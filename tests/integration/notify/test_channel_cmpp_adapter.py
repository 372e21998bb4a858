"""The CMPP channel (the Channel around the CMPP client) against the ISMG simulator over TCP on loopback: sends come
back as sent with one gateway id per segment, the ISMG's status reports reach subscribers and the report iterator as
DeliveryReports, and every CMPP failure becomes the outcome the pipeline acts on."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from notify.channels.base import DeliveryReport, Message, Outcome
from notify.channels.cmpp import CmppConfig, IsmgSimulator
from notify.channels.cmpp_channel import CmppChannel
from tests.support.kafka import wait_until

pytestmark = pytest.mark.integration

SP, SECRET = "901234", "s3cret-of-the-sp"
SHORT = "工单T-20261202-000123：专线中断，承诺12:30前恢复，咨询10086。"
LONG = SHORT * 4  # 176 characters: 3 segments of at most 67


@pytest.fixture
async def ismg() -> AsyncIterator[IsmgSimulator]:
    async with IsmgSimulator(accounts={SP: SECRET}) as simulator:
        yield simulator


def config(port: int, **overrides) -> CmppConfig:
    values = dict(
        host="127.0.0.1",
        port=port,
        source_addr=SP,
        shared_secret=SECRET,
        src_id="1065712345",
        response_timeout=1.0,
        connect_timeout=1.0,
    )
    return CmppConfig(**(values | overrides))


@pytest.fixture
async def sms(ismg) -> AsyncIterator[CmppChannel]:
    channel = CmppChannel("sms-cmpp", config(ismg.port), signature="呼应")
    yield channel
    await channel.close()


def message(text: str = SHORT) -> Message:
    return Message(notification_id="n-1", idempotency_key="k-1", to="13800138000", text=text)


async def eventually(check, timeout: float = 5.0):
    async def probe():
        return check()

    return await wait_until(probe, timeout=timeout, interval=0.02)


async def test_a_long_message_is_sent_with_one_id_per_segment_and_reports_reach_the_iterator(ismg, sms):
    result = await sms.send(message(LONG))
    assert result.outcome is Outcome.SENT and len(result.gateway_ids) == 3  # 180 characters with 【呼应】
    (received,) = ismg.messages
    assert received.text == LONG + "【呼应】"
    assert result.gateway_ids == tuple(str(i) for i in received.msg_ids)
    reports = sms.reports()
    got = [await asyncio.wait_for(anext(reports), 5) for _ in result.gateway_ids]
    assert sorted(r.gateway_id for r in got) == sorted(result.gateway_ids)
    assert all(r.delivered and r.status == "DELIVRD" for r in got)


async def test_subscribers_get_reports_sync_and_async(ismg, sms):
    seen: list[DeliveryReport] = []
    awaited: list[DeliveryReport] = []

    async def later(report: DeliveryReport) -> None:
        awaited.append(report)

    sms.subscribe(seen.append)
    sms.subscribe(later)
    ismg.faults.report_stat = "UNDELIV"
    result = await sms.send(message())
    await eventually(lambda: seen and awaited)
    assert [r.gateway_id for r in seen] == list(result.gateway_ids) == [r.gateway_id for r in awaited]
    assert not seen[0].delivered and seen[0].status == "UNDELIV"
    await eventually(lambda: ismg.acked_reports)  # acknowledged to the ISMG


async def test_flow_control_is_a_retry_and_other_results_are_rejected(ismg, sms):
    ismg.faults.submit_result = 8
    assert (await sms.send(message())).outcome is Outcome.RETRY
    ismg.faults.submit_result = 7  # bad Service_Id
    result = await sms.send(message())
    assert result.outcome is Outcome.REJECTED and "result 7" in (result.error or "")


async def test_a_swallowed_submit_is_unknown(ismg, sms):
    ismg.faults.answer_submits = False
    result = await sms.send(message())
    assert result.outcome is Outcome.UNKNOWN
    assert len(ismg.submits) == 1  # it reached the ISMG: a blind resend would be a second SMS


async def test_a_link_cut_mid_message_is_unknown_with_the_accepted_segments(ismg):
    ismg.faults.submit_delay = 0.2
    ismg.faults.drop_after_submits = 3  # segments 1 and 2 answered, the third cuts the link
    channel = CmppChannel("sms-cmpp", config(ismg.port, window=1))
    result = await channel.send(message(LONG))
    await channel.close()
    assert result.outcome is Outcome.UNKNOWN
    assert len(result.gateway_ids) == 2 and all(i.isdigit() for i in result.gateway_ids)


async def test_an_unreachable_ismg_is_a_retry():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = CmppChannel("sms-cmpp", config(port))
    result = await channel.send(message())
    await channel.close()
    assert result.outcome is Outcome.RETRY


async def test_a_wrong_secret_is_a_retry_without_a_submit(ismg):
    channel = CmppChannel("sms-cmpp", config(ismg.port, shared_secret="wrong"))
    result = await channel.send(message())
    await channel.close()
    assert result.outcome is Outcome.RETRY and "status 3" in (result.error or "")
    assert ismg.submits == []
