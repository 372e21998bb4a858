"""What intake really asks its database during a representative workflow — HTTP reports with duplicates, a
mass-outage incident, a green channel and its back-fill, a batch of alarms, a CRM batch upgrading an unverified
ticket, the relay publishing it all, the sweep — recorded from the service's own client, then explained on the
same server: no query scans a collection, the hot ones are among them, and dropping an index is caught."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from huying.events import AlarmRaised, TicketVerified
from intake.store import OUTBOX, OUTCOMES, UNVERIFIED
from tests.integration.intake.conftest import customer, line, read_all, report
from tests.support.kafka import produce, wait_until
from tests.support.plans import recording, scans, shapes

pytestmark = pytest.mark.integration

HOT = [
    "outbox.find({order: {$gte: ·, $lt: ·}}) sort {order: 1}",  # the relay's bounded range
    "outbox.find({order: {$lt: ·}}) sort {order: 1}",  # stragglers below its floor
    "outbox.delete({_id: {$in: […]}})",
    "unverified.find({refs: {$in: […]}})",  # a CRM batch's unverified tickets, one query
    "areas.update({_id: ·, version: ·})",  # mass-outage correlation, version-checked
    "line_windows.update({_id: ·, owner: ·})",  # a window committed / swapped by its owner
    "line_windows.delete({end: {$lt: ·}})",  # the sweep of ended windows
    "outcomes.find({_id: ·})",
    "reports.find({_id: ·})",
    "service_lines.find({customer_id: ·, scope: {$in: […]}})",  # an ordinary customer has no inter-city line
]


async def test_intakes_queries_are_all_served_by_keys_or_indexes(intake_settings, running, mongo, t0) -> None:
    settings = intake_settings(duplicate_wait_seconds=5)
    database = settings.database_name

    def at(minutes: float) -> str:
        return (t0 + timedelta(minutes=minutes)).isoformat()

    with recording() as recorder:  # the service's client is made inside: every command it sends is recorded
        async with running(settings) as intake:
            cities = ["揭阳"] * 4
            await intake.seed(*(customer(f"C-p{n}", tier="bronze", city=c) for n, c in enumerate(cities)))
            await intake.seed(*(line(f"L-p{n}", f"C-p{n}", cities=("揭阳",)) for n in range(4)))

            # HTTP: a line's report and its duplicates (sequential and racing), a second report on the same line
            full = {"full_outage": True}  # ordinary customers' internet lines fully down: they count (seed 003)
            first = await intake.post(report("pl-1", service_line_id="L-p0", reported_at=at(0), attributes=full))
            again = await intake.post(report("pl-1", service_line_id="L-p0", reported_at=at(0), attributes=full))
            racing = await asyncio.gather(
                *(
                    intake.post(report("pl-2", service_line_id="L-p1", reported_at=at(1), attributes=full))
                    for _ in range(3)
                )
            )
            same_line = await intake.post(report("pl-3", service_line_id="L-p0", reported_at=at(2)))
            assert (first.status_code, again.json()["duplicate"]) == (201, True)
            assert sorted(r.json()["duplicate"] for r in racing) == [False, True, True]
            assert same_line.json()["link"] == "same_line"
            # a third customer in the city: the mass-outage incident; a fourth links to it
            third = (
                await intake.post(report("pl-4", service_line_id="L-p2", reported_at=at(3), attributes=full))
            ).json()
            fourth = (await intake.post(report("pl-5", service_line_id="L-p3", reported_at=at(4)))).json()
            assert third["incident_opened"] and fourth["link"] == "incident_child"
            # the green channel and its formal record
            green = (await intake.post(report("pl-6", channel="green_channel", reported_at=at(5)), key="key-am")).json()
            backfill = report("pl-7", reported_at=at(9), attributes={"backfill_ticket_id": green["ticket_id"]})
            assert (await intake.post(backfill)).json()["link"] == "backfill"
            # an unknown customer and line: unverified until CRM data comes, as one batch on the CRM topic
            unknown = (await intake.post(report("pl-8", customer_id="C-px", service_line_id="L-px"))).json()
            assert unknown["verified"] is False
            assert (await intake.http.get("/v1/reports/pl-8", headers={"X-API-Key": "key-cc"})).status_code == 200
            # a batch of alarms, through Kafka (the batch path)
            alarms = [
                AlarmRaised(
                    alarm_id=f"pl-a{n}",
                    service_line_id=f"L-p{n % 4}",
                    resource="OLT",
                    city="揭阳",
                    severity=["critical", "major", "minor"][n % 3],
                    raised_at=t0 + timedelta(minutes=n),
                )
                for n in range(12)
            ]
            await produce(intake.bootstrap, intake.topic("alarms"), *alarms)
            crm = [customer("C-px", tier="gold", city="揭阳"), line("L-px", "C-px", cities=("揭阳",))]
            await produce(intake.bootstrap, intake.topic("crm"), *crm, key=b"C-px")

            mine = mongo[database]  # the test's own reads go through another client: only intake's are recorded

            async def settled() -> bool:
                done = await mine[OUTCOMES].count_documents({"_id": {"$in": [f"nms:pl-a{n}" for n in range(12)]}})
                waiting = await mine[UNVERIFIED].count_documents({"_id": unknown["ticket_id"]})
                return done == 12 and not waiting and not await mine[OUTBOX].count_documents({})

            await wait_until(settled, timeout=60)
            events = await read_all(intake.bootstrap, intake.topic("tickets"))
            assert [e.ticket_id for e in events if isinstance(e, TicketVerified)] == [unknown["ticket_id"]]
            assert await intake.intake.store.sweep(now=t0 + timedelta(days=1)) >= 1

    recorded = shapes(recorder, database=database)
    assert [hot for hot in HOT if hot not in recorded] == [], recorded
    assert await scans(mongo, recorder, database=database) == []

    # the check has teeth: without the index behind the relay's range, the same recording is caught scanning
    await mongo[database][OUTBOX].drop_index("order_1")
    found = await scans(mongo, recorder, database=database)
    assert found and all(f"scans {database}.outbox" in f for f in found), found
