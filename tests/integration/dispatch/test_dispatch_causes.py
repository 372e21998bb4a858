"""Over real Kafka and the database: a resolution needs its cause category, operator work leaves the dedicated
notice on the ticket (due by policy), and the follow-up (回访) publishes who called, how, when and whom."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.dispatch.conftest import AGENT, CS, SUPERVISOR, T0, opened

pytestmark = pytest.mark.integration


async def test_an_operator_work_resolution_promises_a_notice_and_the_follow_up_is_recorded(dispatch) -> None:
    await dispatch.produce("tickets", opened("T-CAUSE-1"))
    await dispatch.ticket("T-CAUSE-1", state="dispatched")
    assert (await dispatch.post("T-CAUSE-1", "accept", AGENT)).status_code == 200
    dispatch.clock.advance(timedelta(minutes=30))
    restored = {"cause": "割接时误断跳纤", "restored_at": (T0 + timedelta(minutes=25)).isoformat()}

    for body in (restored, restored | {"cause_category": "bad_luck"}):
        refused = await dispatch.post("T-CAUSE-1", "resolve", AGENT, body)
        assert refused.status_code == 422, refused.text
        assert [e["loc"] for e in refused.json()["detail"]] == [["body", "cause_category"]]

    resolved = await dispatch.post("T-CAUSE-1", "resolve", AGENT, restored | {"cause_category": "operator_work"})
    assert resolved.status_code == 200, resolved.text
    view = (await dispatch.get("/v1/tickets/T-CAUSE-1", SUPERVISOR)).json()
    assert view["cause_category"] == "operator_work"
    [notice] = view["follow_ups"]
    assert (notice["kind"], notice["due_at"]) == ("dedicated_notice", "2026-03-04T02:30:00Z")  # 48 h after resolving

    assert (await dispatch.post("T-CAUSE-1", "confirm", CS, {"method": "customer"})).status_code == 200
    assert (await dispatch.post("T-CAUSE-1", "close", CS)).status_code == 200
    dispatch.clock.advance(timedelta(hours=2))
    follow_up = {"called_by": "cs-01", "method": "phone", "called_at": dispatch.clock.now().isoformat()}
    missing = await dispatch.post("T-CAUSE-1", "satisfaction", CS, follow_up | {"satisfied": True})
    assert missing.status_code == 422 and "reached" in missing.text
    early = follow_up | {"called_at": T0.isoformat(), "reached": "王伟", "satisfied": True}
    refused = await dispatch.post("T-CAUSE-1", "satisfaction", CS, early)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "called_at"]
    done = await dispatch.post("T-CAUSE-1", "satisfaction", CS, follow_up | {"reached": "王伟", "satisfied": False})
    assert done.status_code == 200, done.text

    events = await dispatch.published(count=1 + 7, ticket_id="T-CAUSE-1")
    by_type = {e["type"]: e for e in events}
    assert by_type["TicketResolved"]["cause_category"] == "operator_work"
    recorded = by_type["SatisfactionRecorded"]
    assert (recorded["called_by"], recorded["method"], recorded["reached"], recorded["satisfied"]) == (
        "cs-01", "phone", "王伟", False,
    )  # fmt: skip
    assert recorded["called_at"] == "2026-03-02T04:30:00Z"

    history = (await dispatch.get("/v1/tickets/T-CAUSE-1/history", SUPERVISOR)).json()["history"]
    assert history[-1]["details"]["reached"] == "王*"  # a customer's person: masked for a supervisor
