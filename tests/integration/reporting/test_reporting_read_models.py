"""reporting over real Kafka and the real database: events of four tickets on the ticket, SLA and notification
topics, delivered twice, become exactly the expected facts, notification outcomes, line quality and KPIs; the API
needs a token with the `kpis` permission; every query is served by a key or an index."""

from __future__ import annotations

import uuid

import pytest

from huying.events import IncidentOpened, QualityBudgetWarning
from tests.integration.reporting.conftest import running
from tests.support.auth import AGENT, TEAM_LEAD
from tests.support.plans import recording, scans, shapes
from tests.unit.reporting.builders import (
    accepted,
    breached,
    cancelled,
    closed,
    dispatched,
    failed,
    gold_fault,
    met,
    minutes,
    opened,
    resolved,
    satisfaction,
    sent,
    severe,
    started,
)

pytestmark = pytest.mark.integration
SZ, FS = "sz-access-ops", "fs-access-ops"


def tickets_and_sla():
    """A: gold_fault (builders). B: silver in 深圳, two teams (FS's acceptance breached), restore breached by the
    timer but interconnection's, severe (not counted), closed without a follow-up. C: gold, acceptance and restore
    breached, severe, restored at 200 min, rated unsatisfied, child of the incident I-1. D: cancelled."""
    a = gold_fault("A")
    b = [
        opened("B", tier="silver", city="深圳", service_line_id="L-02"), dispatched("B", SZ, FS),
        started("B", "acceptance", at=1, due=11, subject=SZ), accepted("B", SZ, at=3),
        started("B", "acceptance", at=1, due=11, subject=FS), breached("B", "acceptance", due=11, subject=FS),
        met("B", "acceptance", at=3, due=11, subject=SZ), started("B", "restore", at=0, due=240),
        severe("B"), breached("B", "restore", due=240),
        resolved("B", restored=300, cause="interconnection"), started("B", "feedback", at=300, due=330),
        met("B", "feedback", at=310, due=330), closed("B", at=320),
    ]  # fmt: skip
    c = [
        opened("C", parent_incident_id="I-1"), dispatched("C"),
        started("C", "acceptance", at=1, due=11, subject="gz-access-ops"),
        breached("C", "acceptance", due=11, subject="gz-access-ops"), accepted("C", at=15),
        started("C", "restore", at=0, due=120), severe("C"), breached("C", "restore", due=120),
        resolved("C", restored=200), closed("C", at=210), satisfaction("C", False, at=400),
    ]  # fmt: skip
    d = [opened("D"), dispatched("D"), started("D", "acceptance", at=1, due=11, subject="gz-access-ops"),
         met("D", "acceptance", at=2, due=11, subject="gz-access-ops"), cancelled("D", at=5)]  # fmt: skip
    # An incident of April: its facts list its children; it is outside March, the period the KPIs are asked for.
    incident = IncidentOpened(
        event_id=uuid.UUID(int=1), ticket_id="I-1", category="access", city="广州", reported_at=minutes(60_000),
        reason="3 customers", child_ticket_ids=["C"], occurred_at=minutes(60_000),
    )  # fmt: skip
    everything = [*a, *b, *c, *d, incident]
    on_sla = [e for e in everything if type(e).__name__.startswith(("Sla", "TicketSeverity"))]
    return [e for e in everything if e not in on_sla], on_sla


NOTIFICATIONS = [failed("N-1", "A", at=121, attempts=1), sent("N-1", "A", at=122, attempts=2), sent("N-2", "B", at=250)]
BUDGET = QualityBudgetWarning(service_line_id="L-01", year=2026, measure="repeat_faults", used=2, budget=4,
                              occurred_at=minutes(200))  # fmt: skip


async def deliver(reporting) -> None:
    ticket_events, sla_events = tickets_and_sla()
    await reporting.produce("tickets", *ticket_events)
    await reporting.produce("sla", *sla_events, BUDGET)
    await reporting.produce("notifications", *NOTIFICATIONS)
    await reporting.applied()


async def test_facts_and_kpis_are_exactly_the_events_and_redelivery_changes_nothing(
    infra, reporting_settings, mongo
) -> None:
    database = mongo[reporting_settings.database_name]
    with recording() as recorder:
        async with running(reporting_settings, infra.kafka_bootstrap) as reporting:
            await deliver(reporting)
            first = await snapshot(reporting)
            check(first)
            await deliver(reporting)  # every event again, as a redelivery would bring it
            assert await snapshot(reporting) == first
            assert (await database.ticket_facts.find_one({"_id": "A"}))["version"] == len(gold_fault("A"))
    assert await scans(mongo, recorder, database=reporting_settings.database_name) == []
    covered = shapes(recorder, database=reporting_settings.database_name)
    assert "ticket_facts.aggregate({reported_at: {$gte: ·, $lt: ·}})" in covered  # the KPI query
    assert "ticket_facts.find({parent_incident_id: ·})" in covered  # an incident's children


async def snapshot(reporting) -> dict:
    out = {}
    for ticket in ("A", "B", "C", "D", "I-1"):
        response = await reporting.get(f"/v1/tickets/{ticket}/facts", TEAM_LEAD)
        assert response.status_code == 200, response.text
        out[ticket] = response.json()
    march = {"from": "2026-03-01", "to": "2026-04-01T00:00:00+08:00"}  # Shanghai time either way
    for name, params in {
        "all": {},
        "tier_city": {"group_by": "tier,city"},
        "team": {"group_by": "team,period", "period": "quarter"},
        "gold": {"tier": "gold"},
        "fs": {"team": "fs-access-ops"},
    }.items():
        response = await reporting.get("/v1/kpis", TEAM_LEAD, **march, **params)
        assert response.status_code == 200, response.text
        out[name] = response.json()
    out["lines"] = (await reporting.get("/v1/lines/quality", TEAM_LEAD, year=2026)).json()
    out["owed"] = (await reporting.get("/v1/follow-ups", TEAM_LEAD, status="owed")).json()
    return out


def rate(kpis: dict, name: str) -> tuple:
    return kpis[name]["met"], kpis[name]["due"], kpis[name]["rate"]


def check(s: dict) -> None:
    a = s["A"]
    assert (a["tier"], a["assurance_level"], a["city"], a["teams"], a["status"]) == (
        "gold", "AAA", "广州", ["gz-access-ops"], "closed",
    )  # fmt: skip
    assert (a["suspended_seconds"], a["excluded_seconds"], a["restore_net_seconds"]) == (1200, 1800, 3000)
    assert {(c["clock"], c["outcome"], c["counted"]) for c in a["clocks"]} == {
        ("acceptance", "met", True), ("contact", "breached", True), ("restore", "met", True),
    }  # fmt: skip
    assert (a["follow_up"]["status"], a["follow_up"]["satisfied"]) == ("recorded", True)
    assert [(n["_id"], n["outcome"], n["attempts"]) for n in a["notifications"]] == [("N-1", "sent", 2)]
    b = s["B"]
    assert (b["severity"], b["severe_counted"], b["cause_category"]) == ("severe", False, "interconnection")
    assert ("restore", "breached", False) in {(c["clock"], c["outcome"], c["counted"]) for c in b["clocks"]}
    assert s["D"]["status"] == "cancelled"
    assert (s["I-1"]["kind"], s["I-1"]["children"], s["C"]["parent_incident_id"]) == ("incident", ["C"], "I-1")
    assert s["all"]["from"] == "2026-03-01T00:00:00+08:00"

    assert set(s["all"]) == {"from", "to", "period", "group_by", "filters", "groups", "all"}  # as docs/reporting.md
    every = s["all"]["all"]
    k = every["kpis"]
    assert k["tickets"] == 3  # D was cancelled
    assert rate(k, "acceptance_within_10_min") == (2, 4, 0.5)
    assert rate(k, "contact_result_within_15_min") == (0, 1, 0.0)
    assert rate(k, "restore_within_limit") == (1, 2, 0.5)  # B's breach is interconnection's: not counted
    assert rate(k, "cause_and_result_within_30_min") == (1, 1, 1.0)
    assert rate(k, "internal_report_within_2_wd") == (0, 0, None)
    assert k["mttr"] == {"tickets": 2, "net_seconds": 3000 + 12000, "mean_seconds": 7500}
    assert k["satisfaction"] == {"satisfied": 1, "records": 2, "rate": 0.5, "percent": 50.0}
    assert k["severe_faults"] == {"counted": 1, "total": 2}
    assert every["breaches"] == [
        {"clock": "acceptance", "cause": "interconnection", "count": 1},
        {"clock": "acceptance", "cause": "operator_equipment", "count": 1},
        {"clock": "contact", "cause": "operator_equipment", "count": 1},
        {"clock": "restore", "cause": "interconnection", "count": 1},
        {"clock": "restore", "cause": "operator_equipment", "count": 1},
    ]

    groups = {(g["key"]["tier"], g["key"]["city"]): g["kpis"] for g in s["tier_city"]["groups"]}
    assert set(groups) == {("gold", "广州"), ("silver", "深圳")}
    assert (groups[("gold", "广州")]["tickets"], groups[("silver", "深圳")]["tickets"]) == (2, 1)
    assert rate(groups[("gold", "广州")], "restore_within_limit") == (1, 2, 0.5)
    assert rate(groups[("silver", "深圳")], "restore_within_limit") == (0, 0, None)
    teams = {(g["key"]["team"], g["key"]["period"]): g["kpis"] for g in s["team"]["groups"]}
    assert set(teams) == {("gz-access-ops", "2026-Q1"), (SZ, "2026-Q1"), (FS, "2026-Q1")}
    gz, sz, fs = (teams[(t, "2026-Q1")] for t in ("gz-access-ops", SZ, FS))
    assert (gz["tickets"], sz["tickets"], fs["tickets"]) == (2, 1, 1)  # B counts for both of its teams
    assert rate(sz, "acceptance_within_10_min") == (1, 1, 1.0)  # each team its own acceptance
    assert rate(fs, "acceptance_within_10_min") == (0, 1, 0.0)
    assert rate(sz, "cause_and_result_within_30_min") == rate(fs, "cause_and_result_within_30_min") == (1, 1, 1.0)
    fs_breaches = [g["breaches"] for g in s["team"]["groups"] if g["key"]["team"] == FS]
    assert fs_breaches == [[
        {"clock": "acceptance", "cause": "interconnection", "count": 1},
        {"clock": "restore", "cause": "interconnection", "count": 1},
    ]]  # fmt: skip
    assert s["team"]["all"]["kpis"] == s["all"]["all"]["kpis"]  # grouped by team, `all` still counts B once
    fs_only = s["fs"]["all"]
    assert (fs_only["kpis"]["tickets"], rate(fs_only["kpis"], "acceptance_within_10_min")) == (1, (0, 1, 0.0))
    assert s["gold"]["all"]["kpis"]["tickets"] == 2 and s["gold"]["filters"] == {"tier": "gold"}

    (line,) = [x for x in s["lines"]["lines"] if x["service_line_id"] == "L-01"]
    assert (line["repeat_faults"]["used"], line["repeat_faults"]["budget"], line["assurance_level"]) == (2, 4, "AAA")
    assert line["outage_hours"]["used"] == pytest.approx((50 + 200) / 60)
    assert [(e["measure"], e["state"]) for e in line["budget_events"]] == [("repeat_faults", "warning")]
    assert [t["_id"] for t in s["owed"]["tickets"]] == ["B"]


async def test_the_figures_need_a_token_with_the_kpis_permission(reporting) -> None:
    for path in ("/v1/kpis", "/v1/tickets/A/facts", "/v1/lines/quality?year=2026", "/v1/follow-ups"):
        assert (await reporting.get(path, None)).status_code == 401
        assert (await reporting.get(path, AGENT)).status_code == 403
    assert (await reporting.get("/v1/tickets/NOPE/facts", TEAM_LEAD)).status_code == 404
    response = await reporting.get("/v1/kpis", TEAM_LEAD, group_by="tier,colour")
    assert response.status_code == 422 and "colour" in response.text
    assert (await reporting.get("/v1/kpis", TEAM_LEAD, tier="platinum")).status_code == 422


async def test_bounds_of_any_year_are_answered_held_within_1970_and_9999(reporting) -> None:
    # fuzzing found both: a year-225 bound made a rollup day '225-07-11'; a year-1 bound cannot be stored in UTC
    for start, end in (("0225-07-11", "0226-01-01"), ("0001-01-01T00:00:00", "9999-12-31T23:59:59")):
        response = await reporting.get("/v1/kpis", TEAM_LEAD, **{"from": start, "to": end})
        assert response.status_code == 200, response.text
        assert response.json()["from"].startswith("1970-01-01"), response.json()["from"]
