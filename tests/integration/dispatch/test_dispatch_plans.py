"""Every query dispatch sends in a representative workflow is served by an index on the real server: openings and
a linked report over Kafka, routing and re-dispatch (per-assignee load counters), operator actions over HTTP, the ticket
list, a history, a CRM tier change, the outbox relay. And closed work carries its purge date (TTL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.settings import DispatchSettings
from huying.events import CustomerUpserted, ReportLinked, SlaBreached
from tests.integration.dispatch.conftest import AGENT, CS, SUPERVISOR, SZ, T0, Dispatch, opened, running
from tests.support.kafka import wait_until
from tests.support.plans import recording, scans, shapes

pytestmark = pytest.mark.integration

# The hot shapes (values dropped): each must have been sent, and none may scan.
HOT = [
    "tickets.find({_id: ·})",  # load a ticket (projected: no history, outbox or consumed ids)
    "tickets.update({_id: ·, version: ·})",  # the one write of every change
    "loads.find({_id: {$in: […]}})",  # per-assignee loads when routing
    "loads.update({_id: ·})",  # a write that changes who holds open work moves their counters
    "loads.find({n: {$gt: ·}})",  # the recount at start-up: the counters, before and after reading the tickets
    "loads.find({n: {$lt: ·}})",
    "tickets.find({list_keys: {$in: […]}})",  # the ticket list
    "tickets.find({customer_id: {$in: […]}})",  # a CRM batch's tickets
    "tickets.find({outbox_pending: ·})",  # the outbox relay
    "customers.find({_id: {$in: […]}})",  # a CRM batch's customers, a list page's customers
]


def customer(tier: str, revision: int) -> CustomerUpserted:
    return CustomerUpserted(
        customer_id="C-PLAN-1", name="某银行", tier=tier, city="广州", revision=revision,
        occurred_at=T0 + timedelta(minutes=revision),
    )  # fmt: skip


async def ok(dispatch: Dispatch, ticket_id: str, action: str, who, body: dict | None = None) -> dict:
    response = await dispatch.post(ticket_id, action, who, body)
    assert response.status_code == 200, response.text
    return response.json()


async def workflow(dispatch: Dispatch) -> None:
    await dispatch.produce("crm", customer("gold", 1))
    await wait_until(lambda: dispatch.runtime.db.customers.find_one({"_id": "C-PLAN-1"}))
    await dispatch.produce(
        "tickets",
        opened("T-PLAN-1", customer_id="C-PLAN-1"),
        opened("T-PLAN-2", customer_id="C-PLAN-1"),
        opened("T-PLAN-3"),
    )
    for ticket_id in ("T-PLAN-1", "T-PLAN-2", "T-PLAN-3"):
        await dispatch.ticket(ticket_id)
    linked = ReportLinked(
        ticket_id="T-PLAN-1", source_system="nms", external_id="NMS-PLAN", channel="monitoring",
        reported_at=T0 - timedelta(minutes=3), link="same_line", producer="intake",
    )  # fmt: skip
    await dispatch.produce("tickets", linked)
    await dispatch.ticket("T-PLAN-1", version=2)

    dispatch.clock.advance(timedelta(minutes=10))
    breach = SlaBreached(
        ticket_id="T-PLAN-3", clock="acceptance", subject="gz-access-ops", policy_version="2026.1",
        deadline=T0 + timedelta(minutes=6), producer="sla-watch",
    )  # fmt: skip
    await dispatch.produce("sla", breach)
    await dispatch.ticket("T-PLAN-3", version=2)

    await ok(dispatch, "T-PLAN-1", "accept", AGENT)
    await ok(
        dispatch, "T-PLAN-1", "contact", AGENT, {"contacted_at": dispatch.clock.now().isoformat(), "method": "phone"}
    )
    await ok(dispatch, "T-PLAN-1", "progress", AGENT, {"note": "抢修中"})
    restored = {
        "cause": "光缆中断",
        "cause_category": "operator_equipment",
        "restored_at": (T0 + timedelta(minutes=8)).isoformat(),
    }
    await ok(dispatch, "T-PLAN-1", "resolve", AGENT, restored)
    await ok(dispatch, "T-PLAN-1", "confirm", CS, {"method": "customer"})
    await ok(dispatch, "T-PLAN-1", "close", CS)
    closed = await dispatch.ticket("T-PLAN-1", state="closed")
    assert closed["purge_after"] == T0 + timedelta(minutes=10, days=dispatch.settings.retention_days)
    await ok(dispatch, "T-PLAN-1", "reopen", SUPERVISOR, {"reason": "客户反映仍中断"})
    assert "purge_after" not in await dispatch.ticket("T-PLAN-1", state="in_progress")  # live again: kept
    await ok(dispatch, "T-PLAN-2", "transfer", AGENT, {"to_team": "sz-access-ops", "reason": "深圳端故障"})
    await ok(dispatch, "T-PLAN-3", "cancel", SUPERVISOR, {"reason": "重复报障"})
    assert "purge_after" in await dispatch.ticket("T-PLAN-3", state="cancelled")

    listed = (await dispatch.get("/v1/tickets", SUPERVISOR)).json()["tickets"]
    assert [t["ticket_id"] for t in listed] == ["T-PLAN-3", "T-PLAN-2", "T-PLAN-1"]  # newest first (same minute)
    assert listed[1]["customer"]["name"] == "某银行"
    queue = (await dispatch.get("/v1/tickets?state=dispatched", SZ)).json()["tickets"]
    assert [t["ticket_id"] for t in queue] == ["T-PLAN-2"]
    cancelled = (await dispatch.get("/v1/tickets?state=cancelled&team=gz-access-ops", AGENT)).json()["tickets"]
    assert [t["ticket_id"] for t in cancelled] == ["T-PLAN-3"]
    dispatch.clock.advance(timedelta(days=dispatch.settings.list_days + 1))
    assert (await dispatch.get("/v1/tickets", SUPERVISOR)).json()["tickets"] == []  # out of the opening window
    queue = (await dispatch.get("/v1/tickets?state=in_progress", AGENT)).json()["tickets"]
    assert [t["ticket_id"] for t in queue] == ["T-PLAN-1"]  # a live state's queue has no window
    history = (await dispatch.get("/v1/tickets/T-PLAN-1/history", SUPERVISOR)).json()
    assert [h["action"] for h in history["history"]][-2:] == ["close", "reopen"]

    await dispatch.produce("crm", customer("silver", 2))
    await dispatch.ticket("T-PLAN-1", tier="silver")
    await dispatch.ticket("T-PLAN-2", tier="silver")
    await wait_until(dispatch._drained)


async def test_every_hot_query_of_dispatch_is_served_by_an_index(infra, settings_for, mongo) -> None:
    settings = settings_for(DispatchSettings)
    with recording() as recorder:
        async with running(settings, infra.kafka_bootstrap) as dispatch:
            await workflow(dispatch)
    database = settings.database_name
    sent = shapes(recorder, database=database)
    assert [hot for hot in HOT if hot not in sent] == [], sent
    assert await scans(mongo, recorder, database=database) == []

    indexes = await mongo[database].tickets.index_information()
    assert indexes["purge_after_1"].get("expireAfterSeconds") == 0  # the retention horizon is a TTL index

    # The check can fail: without the index the recount uses to find counters to reset, that query scans.
    await mongo[database].loads.drop_index("n_1")
    assert [s.split(" scans ")[0] for s in await scans(mongo, recorder, database=database)] == [
        "loads.find({n: {$gt: ·}})",
        "loads.find({n: {$lt: ·}})",
    ]


async def test_load_counters_follow_the_open_work_and_a_recount_heals_them(infra, settings_for, mongo) -> None:
    from dispatch import store

    settings = settings_for(DispatchSettings)
    async with running(settings, infra.kafka_bootstrap) as dispatch:
        db = mongo[settings.database_name]
        await dispatch.produce("tickets", *(opened(f"T-LOAD-{n}") for n in range(3)))
        for n in range(3):
            await dispatch.ticket(f"T-LOAD-{n}")
        counted = await store.recount_loads(db)  # the truth, from the tickets
        assert counted and await store.loads(db, sorted(counted)) == counted
        await db.loads.update_many({}, {"$inc": {"n": 5}})  # drift, as a crash between the two writes would leave
        await db.loads.insert_one({"_id": "ghost", "n": -2})  # a member with no open work, counted below zero
        assert await store.loads(db, sorted(counted)) != counted
        assert await store.recount_loads(db) == counted
        assert await store.loads(db, sorted(counted)) == counted
        assert (await db.loads.find_one({"_id": "ghost"}))["n"] == 0
