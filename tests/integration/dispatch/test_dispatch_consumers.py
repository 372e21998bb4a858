"""dispatch's consumers over real Kafka and the real database: multi-team dispatch from the CRM replica,
re-dispatch and escalation on acceptance breaches, and redelivered events changing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from huying.events import CustomerUpserted, ReportLinked, ServiceLineUpserted, SlaBreached
from tests.integration.dispatch.conftest import AGENT, FS, SZ, T0, opened
from tests.support.kafka import wait_until

pytestmark = pytest.mark.integration


def line(line_id: str, cities: list[str]) -> ServiceLineUpserted:
    return ServiceLineUpserted(
        service_line_id=line_id, customer_id="C-01-0001", product="互联网专线", category="access",
        scope="inter_city", cities=cities, occurred_at=T0 - timedelta(days=1),
    )  # fmt: skip


def breached(ticket_id: str, team: str, deadline) -> SlaBreached:
    return SlaBreached(
        ticket_id=ticket_id, clock="acceptance", subject=team, policy_version="2026.1", deadline=deadline,
        producer="sla-watch",
    )  # fmt: skip


async def test_a_gold_multi_city_fault_is_dispatched_to_every_city_at_once_and_resolves_with_the_last(
    dispatch,
) -> None:
    await dispatch.produce("crm", line("L-MULTI-1", ["广州", "深圳", "佛山"]))
    await wait_until(lambda: dispatch.runtime.db.service_lines.find_one({"_id": "L-MULTI-1"}))
    await dispatch.produce("tickets", opened("T-MULTI-1", scope="inter_city", service_line_id="L-MULTI-1"))
    doc = await dispatch.ticket("T-MULTI-1")
    assert [i["team"] for i in doc["work_items"]] == ["gz-access-ops", "sz-access-ops", "fs-access-ops"]

    async def work(who, minutes: int) -> dict:
        assert (await dispatch.post("T-MULTI-1", "accept", who)).status_code == 200
        body = {
            "cause": f"{who.sub} 段光缆中断",
            "cause_category": "third_party",
            "restored_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        }
        response = await dispatch.post("T-MULTI-1", "resolve", who, body)
        assert response.status_code == 200, response.text
        return response.json()

    dispatch.clock.advance(timedelta(hours=1))
    assert (await work(SZ, 30))["state"] == "accepted"
    assert (await work(FS, 45))["state"] == "accepted"
    last = await work(AGENT, 40)
    assert (last["state"], last["restored_at"]) == ("resolved", "2026-03-02T02:45:00Z")  # the latest of the teams
    events = await dispatch.published(count=1 + 10, ticket_id="T-MULTI-1")
    calls = [(e["team"], e["staff_id"]) for e in events if e["type"] == "DutyNotificationRequested"]
    assert calls == [("gz-access-ops", "op-gz-01"), ("sz-access-ops", "op-sz-01"), ("fs-access-ops", "op-fs-01")]
    events = [e for e in events if e["type"] != "DutyNotificationRequested"]
    assert [e["type"] for e in events] == [
        "TicketDispatched", "TicketAccepted", "WorkItemResolved", "TicketAccepted", "WorkItemResolved",
        "TicketAccepted", "TicketResolved",
    ]  # fmt: skip
    assert events[0]["teams"] == ["gz-access-ops", "sz-access-ops", "fs-access-ops"]


async def test_an_acceptance_breach_redispatches_then_escalates_and_redelivery_changes_nothing(dispatch) -> None:
    first_open = opened("T-SLA-1")
    await dispatch.produce("tickets", first_open, first_open)  # the opening delivered twice
    await dispatch.ticket("T-SLA-1")

    dispatch.clock.advance(timedelta(minutes=10))
    first = breached("T-SLA-1", "gz-access-ops", T0 + timedelta(minutes=10))
    await dispatch.produce("sla", first)
    doc = await dispatch.ticket("T-SLA-1", version=2)
    item = doc["work_items"][0]
    assert (item["assignee"], item["breaches"], item["previous_assignees"]) == ("op-gz-02", 1, ["op-gz-01"])

    linked = ReportLinked(
        ticket_id="T-SLA-1", source_system="nms", external_id="NMS-1", channel="monitoring",
        reported_at=T0 - timedelta(minutes=7), link="same_line", producer="intake",
    )  # fmt: skip
    stale = breached("T-SLA-1", "gz-access-ops", T0 + timedelta(minutes=10))  # another copy, another id
    await dispatch.produce("sla", first, stale)  # redelivered and stale: no change
    await dispatch.produce("tickets", linked, linked)  # the same link twice: recorded once
    await dispatch.ticket("T-SLA-1", version=3)

    dispatch.clock.advance(timedelta(minutes=10))
    await dispatch.produce("sla", breached("T-SLA-1", "gz-access-ops", T0 + timedelta(minutes=20)))
    doc = await dispatch.ticket("T-SLA-1", version=4)
    assert [(i["team"], i["status"]) for i in doc["work_items"]] == [
        ("gz-access-ops", "transferred"), ("gd-duty-supervisors", "dispatched"),
    ]  # fmt: skip
    assert len(doc["linked_reports"]) == 1

    events = await dispatch.published(count=2 + 2 + 6, ticket_id="T-SLA-1")
    calls = [(e["team"], e["staff_id"]) for e in events if e["type"] == "DutyNotificationRequested"]
    assert calls == [("gz-access-ops", "op-gz-01"), ("gz-access-ops", "op-gz-02"), ("gd-duty-supervisors", "sup-gd-01")]
    events = [e for e in events if e["type"] != "DutyNotificationRequested"]
    assert [(e["type"], e.get("redispatch"), e.get("to_team")) for e in events] == [
        ("TicketDispatched", False, None), ("TicketDispatched", True, None),
        ("TicketTransferred", None, "gd-duty-supervisors"),
    ]  # fmt: skip
    doc = await dispatch.runtime.db.tickets.find_one({"_id": "T-SLA-1"}, {"history": 1})
    actions = [entry["action"] for entry in doc["history"]]
    assert actions == ["open", "dispatch", "redispatch", "report_linked", "escalate"]


async def test_a_crm_tier_change_reaches_the_live_tickets_of_the_customer_once(dispatch) -> None:
    def customer(tier: str, revision: int) -> CustomerUpserted:
        return CustomerUpserted(
            customer_id="C-TIER-1", name="某证券", tier=tier, city="广州", revision=revision,
            occurred_at=T0 + timedelta(minutes=revision),
        )  # fmt: skip

    await dispatch.produce("crm", customer("gold", 1))
    await wait_until(lambda: dispatch.runtime.db.customers.find_one({"_id": "C-TIER-1"}))
    await dispatch.produce(
        "tickets",
        opened("T-TIER-1", customer_id="C-TIER-1"),
        opened("T-TIER-2", customer_id="C-TIER-1", terminal_only=True, tier="standard"),
    )
    await dispatch.ticket("T-TIER-1")
    await dispatch.ticket("T-TIER-2")

    change = customer("silver", 2)
    await dispatch.produce("crm", change, change, customer("gold", 1))  # redelivered, then an older revision
    doc = await dispatch.ticket("T-TIER-1", version=2)
    assert doc["tier"] == "silver"
    events = await dispatch.published(count=2 + 4 + 1, ticket_id="T-TIER-1")
    events = [e for e in events if e["type"] != "DutyNotificationRequested"]
    assert [(e["type"], e.get("tier"), e.get("previous_tier")) for e in events] == [
        ("TicketDispatched", None, None), ("TicketTierChanged", "silver", "gold"),
    ]  # fmt: skip
    assert events[1]["occurred_at"] == "2026-03-02T02:02:00Z" and events[1]["causation_id"] == str(change.event_id)
    assert (await dispatch.ticket("T-TIER-2"))["tier"] == "standard"  # terminal-only stays standard
    assert (await dispatch.ticket("T-TIER-1"))["version"] == 2  # neither the copy nor the old record changed it


async def test_a_ticket_opened_with_a_tier_crm_had_already_changed_catches_up(dispatch) -> None:
    change = CustomerUpserted(
        customer_id="C-TIER-2",
        name="某医院",
        tier="silver",
        city="广州",
        revision=5,
        occurred_at=T0 - timedelta(hours=1),
    )
    await dispatch.produce("crm", change)  # reaches dispatch before the ticket intake opened as gold
    await wait_until(lambda: dispatch.runtime.db.customers.find_one({"_id": "C-TIER-2"}))
    late = opened("T-TIER-3", customer_id="C-TIER-2")
    await dispatch.produce("tickets", late, late)  # and the opening redelivered

    doc = await dispatch.ticket("T-TIER-3", version=2)
    assert doc["tier"] == "silver"
    events = await dispatch.published(count=2 + 3, ticket_id="T-TIER-3")
    events = [e for e in events if e["type"] != "DutyNotificationRequested"]
    assert [(e["type"], e.get("tier")) for e in events] == [("TicketDispatched", None), ("TicketTierChanged", "silver")]
    assert events[1]["causation_id"] == str(change.event_id)
    assert events[1]["occurred_at"] == late.occurred_at.isoformat().replace("+00:00", "Z")  # not before the opening
    assert (await dispatch.ticket("T-TIER-3"))["version"] == 2
