"""The read models rebuild from the log: a wiped database gets a new epoch, replays the three topics from the
beginning and holds exactly the facts it held before."""

from __future__ import annotations

import pytest

from tests.integration.reporting.conftest import running
from tests.integration.reporting.test_reporting_read_models import deliver, snapshot

pytestmark = pytest.mark.integration


async def test_a_wiped_database_replays_the_topics_to_the_same_facts_and_kpis(infra, reporting_settings, mongo):
    async with running(reporting_settings, infra.kafka_bootstrap) as reporting:
        await deliver(reporting)
        before, produced = await snapshot(reporting), reporting.produced
        epoch = (await reporting.runtime.db.read_models.find_one({"_id": "events"}))["epoch"]
    await mongo.drop_database(reporting_settings.database_name)
    async with running(reporting_settings, infra.kafka_bootstrap) as reporting:
        model = await reporting.runtime.db.read_models.find_one({"_id": "events"})
        assert model["epoch"] != epoch and "does not say which log" in model["reason"]
        await reporting.applied(produced)
        assert await snapshot(reporting) == before
        ready = await reporting.http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["events_caught_up"] is True
