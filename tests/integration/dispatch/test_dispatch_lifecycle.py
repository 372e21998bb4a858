"""An operator takes a ticket from opened to closed through the HTTP API, over real Kafka and the real database;
every rule is enforced, every action's event is published once, in order, and the history shows who did what."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.dispatch.conftest import AGENT, CS, SUPERVISOR, SZ, T0, opened

pytestmark = pytest.mark.integration


async def test_an_operator_takes_a_ticket_from_opened_to_closed(dispatch) -> None:
    await dispatch.produce("tickets", opened("T-LIFE-1"))
    doc = await dispatch.ticket("T-LIFE-1", state="dispatched")
    assert [(i["team"], i["assignee"]) for i in doc["work_items"]] == [("gz-access-ops", "op-gz-01")]

    # Refusals: no token 401, another team 403, an action the state forbids 409, a suspension without consent 422.
    assert (await dispatch.http.post("/v1/tickets/T-LIFE-1/accept")).status_code == 401
    forbidden = await dispatch.post("T-LIFE-1", "accept", SZ)
    assert forbidden.status_code == 403 and forbidden.json()["detail"]["error"] == "forbidden"
    early_body = {"cause": "x", "cause_category": "not_a_fault", "restored_at": T0.isoformat()}
    early = await dispatch.post("T-LIFE-1", "resolve", AGENT, early_body)
    assert early.status_code == 409
    assert early.json()["detail"] | {"reason": None} == {
        "error": "invalid_transition",
        "reason": None,
        "state": "dispatched",
        "allowed_actions": ["accept", "cancel", "dispatch", "inform_leader", "request_fault_report", "transfer"],
    }

    steps = [
        ("accept", AGENT, None, "accepted"),
        ("contact", AGENT, {"contacted_at": (T0 + timedelta(minutes=1)).isoformat(), "method": "phone"}, "in_progress"),
        ("progress", AGENT, {"note": "已定位光缆中断点，抢修中", "customer_informed": True}, "in_progress"),
    ]
    for action, who, body, state in steps:
        response = await dispatch.post("T-LIFE-1", action, who, body)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state

    no_consent = await dispatch.post("T-LIFE-1", "suspend", AGENT, {"reason": "客户机房断电"})
    assert no_consent.status_code == 422 and "consent" in no_consent.text
    consent = {"by": "王伟", "method": "phone", "at": T0.isoformat()}
    asked = await dispatch.post("T-LIFE-1", "suspend", AGENT, {"reason": "客户机房断电", "consent": consent})
    assert asked.status_code == 200 and asked.json()["state"] == "in_progress"  # waiting for approval
    assert (await dispatch.post("T-LIFE-1", "suspension/approve", AGENT)).status_code == 403
    approved = await dispatch.post("T-LIFE-1", "suspension/approve", SUPERVISOR)
    assert approved.json()["state"] == "suspended" and approved.json()["suspension"]["approved_by"] == "sup-gd-01"

    dispatch.clock.advance(timedelta(minutes=40))
    restored = {
        "cause": "光缆被施工挖断",
        "cause_category": "third_party",
        "restored_at": (T0 + timedelta(minutes=35)).isoformat(),
        "resolution": "熔接",
    }
    FOLLOW_UP = {
        "called_by": "cs-01",
        "method": "phone",
        "called_at": dispatch.clock.now().isoformat(),
        "reached": "王伟",
    }
    for action, who, body, state in [
        ("resume", AGENT, None, "in_progress"),
        ("resolve", AGENT, restored, "resolved"),
        ("confirm", CS, {"method": "customer"}, "confirmed"),
        ("close", CS, None, "closed"),
        ("fault-report", AGENT, {"document_ref": "FR-2026-0302-01"}, "closed"),
        ("satisfaction", CS, FOLLOW_UP | {"satisfied": True, "comment": "处理及时"}, "closed"),
    ]:
        response = await dispatch.post("T-LIFE-1", action, who, body)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state

    events = await dispatch.published(count=13, ticket_id="T-LIFE-1")
    assert [e["type"] for e in events] == [
        "TicketDispatched", "DutyNotificationRequested", "TicketAccepted", "CustomerContacted", "ProgressNoted",
        "TicketSuspended", "TicketResumed", "TicketResolved", "RestorationConfirmed", "TicketClosed",
        "FaultReportSubmitted", "SatisfactionRecorded",
    ]  # fmt: skip
    suspended = events[5]
    assert (suspended["consent_by"], suspended["approved_by"], suspended["actor"]) == ("王伟", "sup-gd-01", "sup-gd-01")
    assert all(e["correlation_id"] == "rpt-T-LIFE-1" for e in events)

    history = (await dispatch.get("/v1/tickets/T-LIFE-1/history", SUPERVISOR)).json()
    assert [(h["actor"], h["action"]) for h in history["history"]] == [
        ("intake", "open"), ("dispatch", "dispatch"), ("op-gz-01", "accept"), ("op-gz-01", "contact"),
        ("op-gz-01", "progress"), ("op-gz-01", "suspension_requested"), ("sup-gd-01", "approve_suspension"),
        ("op-gz-01", "resume"), ("op-gz-01", "resolve"), ("cs-01", "confirm"), ("cs-01", "close"),
        ("op-gz-01", "submit_fault_report"), ("cs-01", "satisfaction"),
    ]  # fmt: skip
    assert history["history"][2]["before"]["state"] == "dispatched"
    assert history["history"][2]["after"]["state"] == "accepted"
    assert history["history"][0]["after"]["contact/phone"] == "138****8000"  # supervisors see it masked
    assert history["version"] == 12


async def test_contacts_are_masked_for_roles_that_do_not_call_the_customer(dispatch) -> None:
    await dispatch.produce("tickets", opened("T-MASK-1"))
    await dispatch.ticket("T-MASK-1")
    working = (await dispatch.get("/v1/tickets/T-MASK-1", AGENT)).json()
    assert working["contact"] == {"name": "王伟", "phone": "13800138000", "email": "wangwei@example.com", "role": None}
    for who in (SUPERVISOR,):
        seen = (await dispatch.get("/v1/tickets/T-MASK-1", who)).json()
        assert (seen["contact"]["phone"], seen["contact"]["email"]) == ("138****8000", "w***@example.com")
        assert seen["contact"]["name"] == "王*"
    assert (await dispatch.get("/v1/tickets/T-MASK-1", SZ)).status_code == 403
    mine = (await dispatch.get("/v1/tickets?state=dispatched", AGENT)).json()["tickets"]
    assert [t["ticket_id"] for t in mine] == ["T-MASK-1"]
    assert (await dispatch.get("/v1/tickets", SZ)).json()["tickets"] == []
