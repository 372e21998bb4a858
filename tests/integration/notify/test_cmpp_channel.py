"""The CMPP client against the ISMG simulator over real TCP on loopback: long messages, the flow-control window,
login, status reports, link tests, and every way a link can fail without a send hanging."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from notify.channels.cmpp import (
    CmppAuthError,
    CmppClient,
    CmppConfig,
    CmppConnectError,
    CmppOutcomeUnknown,
    CmppRejected,
    Faults,
    IsmgSimulator,
)
from tests.support.kafka import wait_until

pytestmark = pytest.mark.integration

SP, SECRET = "901234", "s3cret-of-the-sp"
PHONE = "13800138000"
LONG = "【故障通知】工单T-2026-000123：上海分公司某客户专线中断，处理时限4小时，请立即联系客户并上报进展。" * 4


@pytest.fixture
async def ismg() -> AsyncIterator[IsmgSimulator]:
    async with IsmgSimulator(accounts={SP: SECRET}) as simulator:
        yield simulator


def config(ismg: IsmgSimulator, **overrides) -> CmppConfig:
    values = dict(
        host="127.0.0.1",
        port=ismg.port,
        source_addr=SP,
        shared_secret=SECRET,
        src_id="1065712345",
        response_timeout=5.0,
        connect_timeout=5.0,
    )
    return CmppConfig(**(values | overrides))


async def eventually(check, timeout: float = 5.0):
    async def probe():
        return check()

    return await wait_until(probe, timeout=timeout, interval=0.02)


async def test_a_long_chinese_message_goes_out_in_segments_and_is_reassembled_exactly(ismg):
    async with CmppClient(config(ismg)) as client:
        ids = await client.send(PHONE, LONG, signature="呼应")
    expected = LONG + "【呼应】"
    segments = -(-len(expected) // 67)
    assert len(ids) == segments > 1
    [message] = ismg.messages
    assert message.text == expected
    assert message.msg_ids == tuple(ids)
    assert message.dest_terminal_ids == (PHONE,) and message.src_id == "1065712345" and message.registered_delivery
    assert [(s.pk_total, s.pk_number, s.tp_udhi, s.msg_fmt) for s in ismg.submits] == [
        (segments, n, 1, 8) for n in range(1, segments + 1)
    ]
    assert all(len(s.msg_content) <= 140 and s.msg_src == SP for s in ismg.submits)


async def test_a_short_message_is_one_submit_without_a_header(ismg):
    async with CmppClient(config(ismg)) as client:
        ids = await client.send(PHONE, "工单T1已受理，4小时内处理", signature="呼应")
    assert len(ids) == 1
    assert ismg.submits[0].tp_udhi == 0 and ismg.messages[0].text == "工单T1已受理，4小时内处理【呼应】"


async def test_the_window_is_never_exceeded_and_is_used_in_full():
    window = 4
    async with (
        IsmgSimulator(accounts={SP: SECRET}, window=window, faults=Faults(submit_delay=0.05)) as ismg,
        CmppClient(config(ismg, window=window)) as client,
    ):
        peak = 0

        async def watch():
            nonlocal peak
            while True:
                peak = max(peak, client.in_flight)
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        texts = [LONG if n % 3 == 0 else f"工单{n}" for n in range(24)]
        sends = [client.send(f"1380013{n:04d}", text, signature="呼应") for n, text in enumerate(texts)]
        results = await asyncio.gather(*sends)
        watcher.cancel()
    assert sum(len(r) for r in results) == len(ismg.submits) > 24
    assert ismg.max_in_flight == window  # pipelined up to the window, never beyond
    assert peak <= window and ismg.counts["over_window"] == 0
    assert len(ismg.messages) == 24


async def test_a_client_window_wider_than_the_ismgs_meets_flow_control():
    async with (
        IsmgSimulator(accounts={SP: SECRET}, window=2, faults=Faults(submit_delay=0.05)) as ismg,
        CmppClient(config(ismg, window=8)) as client,
    ):
        results = await asyncio.gather(*(client.send(PHONE, f"工单{n}") for n in range(8)), return_exceptions=True)
    rejected = [r for r in results if isinstance(r, CmppRejected)]
    assert rejected and all(r.result == 8 for r in rejected)  # the simulator's count above can be trusted
    assert ismg.counts["over_window"] == len(rejected) and ismg.max_in_flight == 2


async def test_a_wrong_secret_is_refused_with_status_3(ismg):
    client = CmppClient(config(ismg, shared_secret="not-the-secret"))
    with pytest.raises(CmppAuthError) as refused:
        await client.connect()
    assert refused.value.status == 3
    with pytest.raises(CmppAuthError):
        await client.send(PHONE, "不应发出")
    assert ismg.counts["refused"] == 2 and ismg.counts["logins"] == 0 and not ismg.submits
    await client.close()


async def test_an_unknown_sp_is_refused_with_status_2(ismg):
    with pytest.raises(CmppAuthError) as refused:
        await CmppClient(config(ismg, source_addr="999999")).connect()
    assert refused.value.status == 2


async def test_delivery_reports_reach_the_client_and_are_acknowledged(ismg):
    async with CmppClient(config(ismg)) as client:
        ids = await client.send(PHONE, LONG)
        reports = [await asyncio.wait_for(client.reports.get(), 5) for _ in ids]
        assert {r.msg_id for r in reports} == set(ids)
        assert all(r.delivered and r.dest_terminal_id == PHONE for r in reports)
        await eventually(lambda: sorted(ismg.acked_reports) == sorted(ids))


async def test_a_failed_delivery_report_reaches_a_callback(ismg):
    ismg.faults.report_stat = "UNDELIV"
    seen = []
    async with CmppClient(config(ismg), on_report=seen.append) as client:
        [msg_id] = await client.send(PHONE, "短消息")
        await eventually(lambda: seen)
    assert seen[0].msg_id == msg_id and seen[0].stat == "UNDELIV" and not seen[0].delivered
    assert client.reports.empty()


async def test_no_report_is_asked_for_when_configured_off(ismg):
    async with CmppClient(config(ismg, registered_delivery=False)) as client:
        await client.send(PHONE, "短消息")
    assert ismg.submits[0].registered_delivery == 0 and ismg.counts["reports_sent"] == 0


async def test_an_idle_link_stays_alive_through_active_test():
    async with IsmgSimulator(accounts={SP: SECRET}, idle_timeout=0.6) as ismg:
        async with CmppClient(config(ismg, active_test_interval=0.15)) as client:
            await eventually(lambda: ismg.counts["active_tests"] >= 8)  # ≥ 1.2 s: twice the ISMG's idle limit
            assert client.connected and ismg.counts["idle_drops"] == 0
            await client.send(PHONE, "仍然在线")
        assert ismg.counts["logins"] == 1


async def test_without_link_tests_the_ismg_drops_an_idle_link():
    async with (
        IsmgSimulator(accounts={SP: SECRET}, idle_timeout=0.3) as ismg,
        CmppClient(config(ismg, active_test_interval=60)) as client,
    ):
        await eventually(lambda: ismg.counts["idle_drops"] == 1 and not client.connected)
        await client.send(PHONE, "重新连接后发送")  # the next send opens a new link
        assert ismg.counts["logins"] == 2


async def test_the_client_answers_the_ismgs_active_test():
    async with (
        IsmgSimulator(accounts={SP: SECRET}, active_test_interval=0.1) as ismg,
        CmppClient(config(ismg, active_test_interval=60)),
    ):
        await eventually(lambda: ismg.counts["active_test_resps"] >= 3)


async def test_unanswered_link_tests_drop_the_link_and_the_next_send_reconnects(ismg):
    ismg.faults.answer_active_test = False
    async with CmppClient(config(ismg, active_test_interval=0.1, response_timeout=0.1, active_test_misses=2)) as client:
        await eventually(lambda: not client.connected)
        assert ismg.counts["active_tests"] >= 2
        ismg.faults.answer_active_test = True
        await client.send(PHONE, "链路恢复")
        assert client.connected and ismg.counts["logins"] == 2


async def test_a_dropped_connection_fails_pending_sends_at_once_and_the_next_send_reconnects(ismg):
    ismg.faults.submit_delay = 30  # the answers would come far too late
    async with CmppClient(config(ismg, response_timeout=30)) as client:
        sends = [asyncio.create_task(client.send(PHONE, f"工单{n}")) for n in range(5)]
        await eventually(lambda: len(ismg.submits) == 5)
        started = time.monotonic()
        ismg.drop_connections()
        results = await asyncio.gather(*sends, return_exceptions=True)
        assert time.monotonic() - started < 2  # failed by the lost link, not by the 30 s timeout
        assert all(isinstance(r, CmppOutcomeUnknown) for r in results)  # written: reconcile, never resend blindly
        assert client.in_flight == 0
        ismg.faults.submit_delay = 0
        assert len(await client.send(PHONE, "重发前先核对")) == 1
        assert ismg.counts["logins"] == 2


async def test_a_link_cut_in_the_middle_of_a_long_message_reports_what_was_accepted(ismg):
    ismg.faults.submit_delay = 0.2
    ismg.faults.drop_after_submits = 3
    async with CmppClient(config(ismg, window=1)) as client:
        with pytest.raises(CmppOutcomeUnknown) as unknown:
            await client.send(PHONE, LONG)
    assert len(unknown.value.accepted) == 2  # segments 1 and 2 answered before the third cut the link
    assert not ismg.messages  # the ISMG never got the whole text


async def test_a_swallowed_submit_times_out_as_unknown(ismg):
    ismg.faults.answer_submits = False
    async with CmppClient(config(ismg, response_timeout=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(CmppOutcomeUnknown):
            await client.send(PHONE, "无回应")
        assert time.monotonic() - started < 2
        assert client.in_flight == 0


async def test_a_rejected_submit_carries_the_result(ismg):
    ismg.faults.submit_result = 8
    async with CmppClient(config(ismg)) as client:
        with pytest.raises(CmppRejected) as rejected:
            await client.send(PHONE, "流控")
    assert rejected.value.result == 8 and not rejected.value.accepted and not ismg.messages


async def test_an_unreachable_ismg_fails_the_connect_promptly():
    async with IsmgSimulator(accounts={SP: SECRET}) as ismg:
        port = ismg.port
    client = CmppClient(CmppConfig(host="127.0.0.1", port=port, source_addr=SP, shared_secret=SECRET))
    with pytest.raises(CmppConnectError):
        await client.send(PHONE, "无网关")


async def test_close_sends_terminate_after_pending_submits(ismg):
    ismg.faults.submit_delay = 0.2
    client = CmppClient(config(ismg))
    pending = asyncio.create_task(client.send(PHONE, "关闭前发完"))
    await eventually(lambda: ismg.submits)
    await client.close()
    assert len(await pending) == 1
    assert ismg.counts["terminates"] == 1 and not client.connected


async def test_the_ismgs_terminate_is_answered_and_the_next_send_reconnects(ismg):
    async with CmppClient(config(ismg)) as client:
        await ismg.terminate()
        await eventually(lambda: not client.connected)
        await client.send(PHONE, "网关维护之后")
        assert ismg.counts["logins"] == 2


async def test_a_long_reply_from_a_phone_reaches_the_client_whole(ismg):
    reply = "收到，已联系客户，预计一小时内恢复。" * 6
    async with CmppClient(config(ismg)) as client:
        await client.connect()
        await ismg.send_mo(phone=PHONE, text=reply, dest_id="1065712345", reference=3)
        message = await asyncio.wait_for(client.messages.get(), 5)
    assert (message.src_terminal_id, message.dest_id, message.text) == (PHONE, "1065712345", reply)


async def test_a_gateway_that_answers_with_a_malformed_length_fails_the_login_promptly():
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(64)
        writer.write(bytes.fromhex("ffffffff 80000001 00000001"))  # Total_Length 4 GiB: never wait for that body
        await writer.drain()
        await reader.read()  # until the client gives up on us
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = CmppClient(
        CmppConfig(host="127.0.0.1", port=port, source_addr=SP, shared_secret=SECRET, connect_timeout=20)
    )
    started = time.monotonic()
    with pytest.raises(CmppConnectError, match="Total_Length"):
        await client.connect()
    assert time.monotonic() - started < 2
    server.close()
    await server.wait_closed()


async def test_sends_queued_behind_a_failing_login_fail_with_it_not_one_timeout_each():
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the TCP connection, never answers CONNECT
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = CmppClient(
        CmppConfig(host="127.0.0.1", port=port, source_addr=SP, shared_secret=SECRET, connect_timeout=0.3)
    )
    started = time.monotonic()
    results = await asyncio.gather(*(client.send(PHONE, f"工单{n}") for n in range(10)), return_exceptions=True)
    assert all(isinstance(r, CmppConnectError) for r in results)
    assert time.monotonic() - started < 1.5  # one 0.3 s attempt, not ten in a row
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize(
    ("changes", "result"),
    [
        (dict(msg_content="中".encode("utf-16-be") * 71), 6),  # 142 octets: longer than one SMS
        (dict(msg_content=b"\x4e"), 4),  # half a UCS-2 character
        (dict(msg_src="000000"), 1),  # not the account that logged in
        (dict(pk_total=2, pk_number=3), 1),
        (dict(tp_udhi=1, pk_total=2, pk_number=1, msg_content=bytes.fromhex("0500030103014e2d")), 1),  # UDH says 3
    ],
)
async def test_the_simulator_refuses_malformed_submits_like_an_ismg(ismg, changes, result):
    async with CmppClient(config(ismg)) as client:
        await client.send(PHONE, "先发一条正常的")  # the client's own submits pass the same checks
        link = client._link
        submit = dataclasses.replace(ismg.submits[0], sequence_id=4242, **changes)
        answer = await link.request(submit, timeout=5)
    assert answer.result == result and ismg.counts["invalid"] == 1 and len(ismg.messages) == 1
