"""Two operators racing on one ticket: exactly one write wins each round, the other gets 409, nothing is lost."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.dispatch.conftest import AGENT, AGENT2, opened

pytestmark = pytest.mark.integration
ROUNDS = 8


async def test_two_operators_racing_never_overwrite_each_other(dispatch) -> None:
    await dispatch.produce("tickets", opened("T-RACE-1"))
    await dispatch.ticket("T-RACE-1")
    assert (await dispatch.post("T-RACE-1", "accept", AGENT)).status_code == 200
    version = 2
    winners = []
    for n in range(ROUNDS):
        # Half the rounds name the version seen; the other half rely on the version the server read.
        seen = {"expected_version": version} if n % 2 else {}
        responses = await asyncio.gather(
            dispatch.post("T-RACE-1", "progress", AGENT, {"note": f"round {n} by op-gz-01", **seen}),
            dispatch.post("T-RACE-1", "progress", AGENT2, {"note": f"round {n} by op-gz-02", **seen}),
        )
        codes = sorted(r.status_code for r in responses)
        # Both may succeed only one after the other, and only when neither named the version it saw.
        assert codes == [200, 409] or (codes == [200, 200] and not seen), [r.text for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert response.json()["detail"]["error"] == "stale_version"
            else:
                winners.append(response.json()["version"])
        version += codes.count(200)
        stale = await dispatch.post("T-RACE-1", "progress", AGENT, {"note": "late", "expected_version": version - 1})
        assert stale.status_code == 409 and stale.json()["detail"]["current_version"] == version

    # Every accepted write is in the history exactly once, in version order; no version was written twice.
    history = (await dispatch.get("/v1/tickets/T-RACE-1/history", AGENT)).json()
    notes = [h["details"]["note"] for h in history["history"] if h["action"] == "progress"]
    assert len(notes) == len(winners) == version - 2 and history["version"] == version
    assert sorted(winners) == list(range(3, version + 1))
    doc = await dispatch.runtime.db.tickets.find_one({"_id": "T-RACE-1"}, {"history": 1, "version": 1})
    assert doc["version"] == version and len(doc["history"]) == version + 1  # the opening wrote two lines
