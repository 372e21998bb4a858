"""Over real Kafka and the database, the duty rules end to end: the person on duty called with every dispatch and the
contracted maintainers (代维) sent along, a contact result "not reached" with its reason, the leaders informed (from
sla-watch's escalation, once under redelivery, and by hand), the severe mark recorded, the queue in level-then-deadline
order, and the monitoring center's quality check."""

from __future__ import annotations

from datetime import timedelta

import pytest

from huying.access import Principal, Role
from huying.events import EscalationRaised, SlaClockStarted, TicketSeverityChanged
from tests.integration.dispatch.conftest import AGENT, SUPERVISOR, T0, opened

pytestmark = pytest.mark.integration
GZ_LEAD = Principal(sub="tl-gz-01", role=Role.TEAM_LEAD, teams=["gz-access-ops"])


def restore_clock(ticket_id: str, minutes: int) -> SlaClockStarted:
    return SlaClockStarted(
        ticket_id=ticket_id, clock="restore", policy_version="2026.1", started_at=T0,
        deadline=T0 + timedelta(minutes=minutes), producer="sla-watch",
    )  # fmt: skip


async def test_the_duty_rules_end_to_end(dispatch) -> None:
    await dispatch.produce(
        "tickets",
        opened("T-DUTY-1"),
        opened("T-DUTY-2", tier="silver", customer_id="C-01-0002"),
        opened("T-DUTY-3", tier="standard", customer_id="C-01-0003", assurance_level="AAA"),
        opened("T-DUTY-4", customer_id="C-01-0004"),
    )
    for n in (1, 2, 3, 4):
        await dispatch.ticket(f"T-DUTY-{n}", state="dispatched")
    doc = await dispatch.ticket("T-DUTY-1")
    assert [(x["contractor"], x["team"]) for x in doc["contractors"]] == [("gz-daiwei-01", "gz-access-ops")]

    # The queue: level (the line's AAA ranks the standard customer's ticket with gold), then the restore deadline.
    await dispatch.produce(
        "sla", restore_clock("T-DUTY-1", 300), restore_clock("T-DUTY-2", 60), restore_clock("T-DUTY-3", 200)
    )
    await dispatch.ticket("T-DUTY-3", restore_deadline={"$ne": None})
    await dispatch.ticket("T-DUTY-1", restore_deadline={"$ne": None})
    await dispatch.ticket("T-DUTY-2", restore_deadline={"$ne": None})
    queue = (await dispatch.get("/v1/tickets?state=dispatched", SUPERVISOR)).json()["tickets"]
    assert [t["ticket_id"] for t in queue] == ["T-DUTY-3", "T-DUTY-1", "T-DUTY-4", "T-DUTY-2"]

    # The contact result: not reached needs its reason (422 naming the field), then it is the reported result.
    assert (await dispatch.post("T-DUTY-1", "accept", AGENT)).status_code == 200
    tried = {"contacted_at": (T0 + timedelta(minutes=1)).isoformat(), "method": "phone", "reached": False}
    refused = await dispatch.post("T-DUTY-1", "contact", AGENT, tried)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "not_reached_reason"]
    reported = await dispatch.post("T-DUTY-1", "contact", AGENT, tried | {"not_reached_reason": "电话无人接听"})
    assert reported.status_code == 200 and reported.json()["contacted_at"] == "2026-03-02T02:01:00Z"

    # Leaders informed: sla-watch's escalation (delivered twice) and a team lead's call; an agent may not record one.
    raised = EscalationRaised(
        ticket_id="T-DUTY-1", clock="escalation_director", policy_version="2026.1", level=1, audience="director",
        producer="sla-watch", occurred_at=T0 + timedelta(minutes=115),
    )  # fmt: skip
    await dispatch.produce("sla", raised, raised)
    await dispatch.ticket("T-DUTY-1", **{"leaders_informed.0": {"$exists": True}})
    told = {"audience": "leadership", "leader": "陈总", "informed_at": T0.isoformat()}
    assert (await dispatch.post("T-DUTY-1", "leaders", AGENT, told)).status_code == 403
    assert (await dispatch.post("T-DUTY-1", "leaders", GZ_LEAD, told)).status_code == 200

    # The severe mark (delivered twice): recorded once.
    marked = TicketSeverityChanged(
        ticket_id="T-DUTY-1", clock="severity", policy_version="2026.1", outage_started_at=T0 - timedelta(minutes=5),
        marked_at=T0 + timedelta(minutes=25), reason="重要集团客户业务全阻超过30分钟", producer="sla-watch",
    )  # fmt: skip
    await dispatch.produce("sla", marked, marked)
    await dispatch.ticket("T-DUTY-1", severity="severe")

    # Resolve, then the monitoring center's check (an agent may not; a failed check needs remarks).
    dispatch.clock.advance(timedelta(hours=3))
    restored = {"cause": "光缆被施工挖断", "cause_category": "third_party", "restored_at": T0.isoformat()}
    assert (await dispatch.post("T-DUTY-1", "resolve", AGENT, restored)).status_code == 200
    assert (await dispatch.post("T-DUTY-1", "quality-check", AGENT, {"result": "passed"})).status_code == 403
    no_remarks = await dispatch.post("T-DUTY-1", "quality-check", SUPERVISOR, {"result": "failed"})
    assert no_remarks.status_code == 422 and no_remarks.json()["detail"][0]["loc"] == ["body", "remarks"]
    checked = await dispatch.post("T-DUTY-1", "quality-check", SUPERVISOR, {"result": "passed", "remarks": "清楚"})
    assert checked.status_code == 200, checked.text

    view = (await dispatch.get("/v1/tickets/T-DUTY-1", SUPERVISOR)).json()
    assert [(x["audience"], x["informed_by"], x["escalation_event_id"]) for x in view["leaders_informed"]] == [
        ("director", "sla-watch", str(raised.event_id)), ("leadership", "tl-gz-01", None),
    ]  # fmt: skip
    assert (view["severity"], view["severe_since"]) == ("severe", "2026-03-02T02:25:00Z")
    assert [(q["result"], q["checked_by"]) for q in view["quality_checks"]] == [("passed", "sup-gd-01")]
    assert [(r["reached"], r["not_reached_reason"]) for r in view["contact_results"]] == [(False, "电话无人接听")]
    people = view["involved"]  # the fault report's data (seed 000 rule 8)
    assert people["duty_staff"] == ["op-gz-01"]  # who accepted it (and so holds it)
    assert [x["contractor"] for x in people["contractors"]] == ["gz-daiwei-01"]
    assert [x["audience"] for x in people["leaders_informed"]] == ["director", "leadership"]

    events = await dispatch.published(count=4 + 8 + 6, ticket_id="T-DUTY-1")
    by_type: dict[str, list[dict]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    assert [e["contractors"] for e in by_type["TicketDispatched"]] == [["gz-daiwei-01"]]
    [call] = by_type["DutyNotificationRequested"]
    # the member the work item went to (the openings cross partitions, so which member is least-loaded varies)
    on_duty = {"op-gz-01": ("张强", "13700137001"), "op-gz-02": ("李明", "13700137002")}
    assert call["staff_id"] == doc["work_items"][0]["assignee"] and call["staff_id"] in on_duty
    assert (call["team"], (call["name"], call["phone"]), call["channels"]) == (
        "gz-access-ops", on_duty[call["staff_id"]], ["sms", "phone"],
    )  # fmt: skip
    [contacted] = by_type["CustomerContacted"]
    assert (contacted["reached"], contacted["not_reached_reason"]) == (False, "电话无人接听")
    leaders = by_type["LeaderInformed"]  # the escalation's, once although delivered twice; then the team lead's
    assert [(e["audience"], e["informed_by"], e["escalation_event_id"]) for e in leaders] == [
        ("director", "sla-watch", str(raised.event_id)), ("leadership", "tl-gz-01", None),
    ]  # fmt: skip
    assert leaders[0]["causation_id"] == str(raised.event_id)
    [quality] = by_type["QualityChecked"]
    assert (quality["result"], quality["remarks"], quality["actor"]) == ("passed", "清楚", "sup-gd-01")
    assert "TicketSeverityChanged" not in by_type  # sla-watch's event; dispatch records it and publishes nothing


async def test_an_immediate_escalation_that_overtakes_its_opening_is_still_recorded(dispatch) -> None:
    # sla-watch answers a gold full outage's opening with a leadership escalation at once (level 0); dispatch may
    # read it before it has stored the opening, and waits for the ticket instead of losing the leader informed.
    raised = EscalationRaised(
        ticket_id="T-DUTY-9", clock="escalation_director", policy_version="2026.1", level=0, audience="leadership",
        producer="sla-watch", occurred_at=T0 - timedelta(minutes=3),
    )  # fmt: skip
    await dispatch.produce("sla", raised)
    await dispatch.produce("tickets", opened("T-DUTY-9"))
    doc = await dispatch.ticket("T-DUTY-9", **{"leaders_informed.0": {"$exists": True}})
    [record] = doc["leaders_informed"]
    assert (record["audience"], record["informed_by"]) == ("leadership", "sla-watch")
    assert record["informed_at"] == T0 - timedelta(minutes=3)  # when sla-watch raised it, after the opening (T0-4)
