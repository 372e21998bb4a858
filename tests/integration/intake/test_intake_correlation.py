"""Mass-outage correlation over the real database: the incident from the third customer, children after it,
state that survives a restart, and concurrent arrivals that each end in exactly one place."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

import pytest

from huying.events import AlarmRaised, IncidentOpened, ReportLinked, ReportReceived, TicketOpened
from intake.domain.arrivals import from_alarm, from_report
from tests.integration.intake.conftest import customer, line, report

pytestmark = pytest.mark.integration


async def test_three_customers_in_one_city_open_a_severe_incident_and_later_reports_become_children(intake, t0) -> None:
    tiers = {
        "C-m1": "standard",
        "C-m2": "bronze",
        "C-m3": "bronze",
        "C-m4": "standard",
        "C-m5": "gold",
        "C-m6": "bronze",
    }
    await intake.seed(*(customer(c, tier=t, city="东莞") for c, t in tiers.items()), customer("C-m7", city="惠州"))

    async def post(n: int, minutes: int, cust: str, **kw):
        at = (t0 + timedelta(minutes=minutes)).isoformat()
        return (await intake.post(report(f"mo-{n}", customer_id=cust, reported_at=at, **kw))).json()

    first = await post(1, 0, "C-m1")
    second = await post(2, 12, "C-m2")
    repeat = await post(3, 13, "C-m2", category_hint="overlay")  # other category: no effect on access
    far = await post(7, 20, "C-m7")  # another city
    third = await post(4, 25, "C-m3")
    fourth = await post(5, 40, "C-m4")
    gold = await post(6, 41, "C-m5", attributes={"full_outage": True})
    later = await post(8, 150, "C-m6")  # after 30 quiet minutes the incident takes no more children

    incident = third["ticket_id"]
    assert third["incident_opened"] == incident and third["link"] == "incident_child"
    assert [r["status"] for r in (first, second, repeat, far, later)] == ["opened"] * 5
    assert (fourth["status"], fourth["ticket_id"], fourth["link"]) == ("linked", incident, "incident_child")
    assert (gold["status"], gold["parent_incident_id"]) == ("opened", incident)

    events = await intake.published(":mo-")
    [opened] = [e for e in events if isinstance(e, IncidentOpened)]
    assert (opened.ticket_id, opened.city, opened.category, opened.severity) == (incident, "东莞", "access", "severe")
    assert opened.child_ticket_ids == [first["ticket_id"], second["ticket_id"]]
    assert opened.reported_at == t0
    links = {e.external_id: e for e in events if isinstance(e, ReportLinked)}
    assert set(links) == {"mo-4", "mo-5"} and {e.ticket_id for e in links.values()} == {incident}
    tickets = {e.external_id: e for e in events if isinstance(e, TicketOpened)}
    assert (tickets["mo-6"].severity, tickets["mo-6"].leadership_notice, tickets["mo-6"].tier) == (
        "severe",
        True,
        "gold",
    )
    assert tickets["mo-1"].parent_incident_id is None and tickets["mo-8"].parent_incident_id is None


async def test_a_restart_loses_no_correlation_window(intake_settings, running, t0) -> None:
    settings = intake_settings(duplicate_wait_seconds=0.5)
    async with running(settings) as intake:
        await intake.seed(
            *(customer(f"C-r{n}", tier="bronze", city="江门") for n in range(1, 4)),
            line("L-r1", "C-r1", cities=("江门",)),
        )
        first = (await intake.post(report("rs-1", service_line_id="L-r1", reported_at=t0.isoformat()))).json()
        await intake.post(report("rs-2", customer_id="C-r2", reported_at=(t0 + timedelta(minutes=5)).isoformat()))
    async with running(settings) as intake:
        at = (t0 + timedelta(minutes=10)).isoformat()
        same_line = (
            await intake.post(report("rs-3", service_line_id="L-r1", channel="web", reported_at=at), key="key-web")
        ).json()
        third = (await intake.post(report("rs-4", customer_id="C-r3", reported_at=at))).json()
        assert (same_line["status"], same_line["ticket_id"]) == ("linked", first["ticket_id"])
        assert third["incident_opened"]
        # a report whose first copy was recorded but never finished (a crash) is finished by the next copy
        crashed = from_report(ReportReceived(source_system="10086-cc", **report("rs-5", reported_at=at)))
        assert await intake.intake.store.claim(crashed, now=t0)
        finished = (await intake.post(report("rs-5", reported_at=at))).json()
        assert (finished["status"], finished["duplicate"]) == ("opened", False)
        # ended windows are swept once they are a window past their end; the one here is not yet
        assert await intake.intake.store.sweep(now=t0 + timedelta(minutes=90)) == 0
        assert await intake.intake.store.sweep(now=t0 + timedelta(minutes=121)) == 1


async def test_concurrent_arrivals_each_end_in_exactly_one_place(intake, t0) -> None:
    """A storm of reports and duplicates over a few lines, customers and cities: every report has one outcome,
    every link points at a ticket or incident that was opened, no ticket opens twice or has two parents."""
    rng = random.Random(7)
    cities = ["珠海", "汕头"]
    customers = [f"C-s{n}" for n in range(12)]
    await intake.seed(
        *(customer(c, tier=rng.choice(["gold", "bronze", "standard"]), city=rng.choice(cities)) for c in customers)
    )
    await intake.seed(*(line(f"L-s{n}", customers[n], cities=(cities[n % 2],)) for n in range(6)))
    bodies = []
    for n in range(60):
        at = (t0 + timedelta(minutes=rng.randint(0, 50))).isoformat()
        ref = (
            {"service_line_id": f"L-s{rng.randrange(6)}"}
            if rng.random() < 0.5
            else {"customer_id": rng.choice(customers)}
        )
        bodies.append(report(f"st-{n}", reported_at=at, **ref))
    bodies += [rng.choice(bodies) for _ in range(20)]  # duplicates, some racing their first copy

    results = [r.json() for r in await asyncio.gather(*(intake.post(b) for b in bodies))]

    by_report = {}
    for result in results:
        assert by_report.setdefault(result["report_id"], result["ticket_id"]) == result["ticket_id"]
    assert len(by_report) == 60
    await assert_each_in_one_place(intake, ":st-", by_report)


async def test_batches_with_duplicates_racing_each_other_end_each_report_in_exactly_one_place(intake, t0) -> None:
    """The batch path (a storm's alarms, a batch request): copies inside one batch and in two batches taken at once
    (two replicas after a rebalance) — the same guarantees as one at a time."""
    rng = random.Random(11)
    customers = [f"C-b{n}" for n in range(10)]
    await intake.seed(*(customer(c, tier=rng.choice(["gold", "silver", "standard"]), city="潮州") for c in customers))
    await intake.seed(*(line(f"L-b{n}", customers[n], cities=("潮州",)) for n in range(8)))

    def arrival(n: int):
        at, line_id = t0 + timedelta(minutes=rng.randint(0, 40)), f"L-b{rng.randrange(8)}"
        if n % 3:
            severity = rng.choice(["critical", "major", "minor"])
            raised = AlarmRaised(
                alarm_id=f"bt-{n}",
                service_line_id=line_id,
                resource="OLT",
                city="潮州",
                severity=severity,
                raised_at=at,
            )
            return from_alarm(raised, source_system="nms")
        body = dict(channel="hotline", source_system="cc", external_id=f"bt-{n}", description="x", reported_at=at)
        return from_report(ReportReceived(**body, service_line_id=line_id))

    arrivals = [arrival(n) for n in range(80)]
    first = arrivals + rng.sample(arrivals, 10)
    second = rng.sample(arrivals, 40)

    left, right = await asyncio.gather(intake.intake.take_batch(first), intake.intake.take_batch(second))

    by_report = {}
    for outcome in left + right:
        assert not isinstance(outcome, Exception), outcome
        assert by_report.setdefault(outcome.report_id, outcome.ticket_id) == outcome.ticket_id
    assert len(by_report) == 80
    recorded = {o.report_id for o in left + right if o.status == "recorded"}  # minor alarms opening nothing
    assert sum(not o.duplicate for o in left + right) == 80, "every report has exactly one first outcome"
    assert [o.report_id for o in left] == [a.key for a in first], "outcomes come back in the batch's order"
    await assert_each_in_one_place(intake, ":bt-", {k: v for k, v in by_report.items() if k not in recorded})


async def assert_each_in_one_place(intake, marker: str, by_report: dict) -> None:
    # at-least-once: a copy that takes over a slow first copy re-emits the same event ids, which consumers drop
    events = list({e.event_id: e for e in await intake.published(marker)}.values())
    opened = Counter(e.ticket_id for e in events if isinstance(e, TicketOpened | IncidentOpened))
    assert opened and max(opened.values()) == 1, "a ticket opened twice"
    links = [e for e in events if isinstance(e, ReportLinked)]
    assert all(link.ticket_id in opened for link in links), "a link to a ticket that never opened"
    reported = Counter(e.external_id for e in events if isinstance(e, TicketOpened | ReportLinked))
    assert set(reported) == {k.split(":", 1)[1] for k in by_report} and max(reported.values()) == 1
    parents = {e.ticket_id: e.parent_incident_id for e in events if isinstance(e, TicketOpened)}
    incidents = {e.ticket_id: e for e in events if isinstance(e, IncidentOpened)}
    assert incidents and links, "the storm should have produced incidents and links"
    for incident in incidents.values():
        for child in incident.child_ticket_ids:
            assert child in parents and parents[child] in (None, incident.ticket_id), "a child with two parents"
