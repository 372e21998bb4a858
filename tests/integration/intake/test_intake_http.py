"""Source systems over HTTP, end to end to `huying.tickets.v1`: the documented example, duplicates (also
concurrent), the channel rules, and the edge's refusals (401, 403, 413, 422, 429)."""

from __future__ import annotations

import asyncio
import functools
import json
from datetime import timedelta
from pathlib import Path

import pytest

from huying.events import ReportLinked, TicketOpened
from tests.integration.intake.conftest import T0, customer, line, report
from tests.integration.intake.conftest import report as report_at

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "intake" / "examples"


async def test_the_documented_hotline_example_opens_one_enriched_ticket(intake) -> None:
    await intake.seed(customer("C-01-0001", tier="gold"), line("L-01-0001-01", "C-01-0001", cities=("广州", "深圳")))
    body = json.loads((EXAMPLES / "hotline-report.json").read_text(encoding="utf-8"))

    response = await intake.post(body)

    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["status"], result["verified"], result["duplicate"]) == ("opened", True, False)
    [opened] = await intake.published("CC20260302-000123")
    assert isinstance(opened, TicketOpened)
    assert opened.ticket_id == result["ticket_id"]
    assert (opened.source_system, opened.external_id, opened.channel) == ("10086-cc", "CC20260302-000123", "hotline")
    assert (opened.tier, opened.scope, opened.category, opened.city) == ("gold", "inter_city", "access", "广州")
    assert opened.reported_at == T0 + timedelta(minutes=15)
    assert (opened.alarm_at, opened.parent_incident_id, opened.backfill_due) == (None, None, None)
    assert opened.contact.phone == "13800138000"

    got = await intake.http.get("/v1/reports/CC20260302-000123", headers={"X-API-Key": "key-cc"})
    assert got.status_code == 200
    assert got.json()["outcome"]["ticket_id"] == result["ticket_id"]
    missing = await intake.http.get("/v1/reports/nope", headers={"X-API-Key": "key-cc"})
    assert missing.status_code == 404


async def test_a_duplicate_and_concurrent_duplicates_return_the_existing_ticket_and_open_nothing(intake, t0) -> None:
    at = t0.isoformat()
    first = await intake.post(report("CC-dup-1", customer_id="C-x", reported_at=at))
    again = await intake.post(report("CC-dup-1", customer_id="C-x", description="再次来电", reported_at=at))
    racing = await asyncio.gather(*(intake.post(report("CC-dup-2", reported_at=at)) for _ in range(8)))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] and again.json()["ticket_id"] == first.json()["ticket_id"]
    assert sorted(r.status_code for r in racing) == [200] * 7 + [201]
    assert len({r.json()["ticket_id"] for r in racing}) == 1
    events = await intake.published("CC-dup-")
    assert sorted(e.external_id for e in events) == ["CC-dup-1", "CC-dup-2"]
    assert len({e.event_id for e in events}) == 2


async def test_green_channel_opens_at_once_and_the_formal_record_links_as_its_backfill(intake, t0) -> None:
    await intake.seed(customer("C-g", tier="gold"), line("L-g", "C-g"))
    call = t0 + timedelta(minutes=5)
    green = await intake.post(
        report(
            "-gc-1", channel="green_channel", customer_id="C-g", service_line_id="L-g", reported_at=call.isoformat()
        ),
        key="key-am",
    )
    formal_at = t0 + timedelta(hours=3)
    formal = await intake.post(
        report(
            "-gc-formal-1",
            channel="account_manager",
            customer_id="C-g",
            reported_at=formal_at.isoformat(),
            attributes={"backfill_ticket_id": green.json()["ticket_id"]},
        )
    )

    assert (formal.json()["status"], formal.json()["link"]) == ("linked", "backfill")
    opened, linked = await intake.published("-gc-")
    assert isinstance(opened, TicketOpened) and isinstance(linked, ReportLinked)
    assert (opened.channel, opened.reported_at, opened.backfill_due) == (
        "green_channel",
        call,
        call + timedelta(hours=24),
    )
    assert (linked.ticket_id, linked.link, linked.reported_at) == (opened.ticket_id, "backfill", formal_at)


async def test_hotline_preprocessing_terminal_faults_and_unknown_customers(intake, t0) -> None:
    await intake.seed(customer("C-b", tier="bronze"), customer("C-au", tier="gold", city="深圳"), customer("C-t"))
    faq = {"faq_answered": True, "faq_id": "FAQ-017"}
    report = functools.partial(report_at, reported_at=t0.isoformat())

    consultation = await intake.post(report("pp-faq-1", customer_id="C-b", attributes=faq))
    gold = await intake.post(report("pp-faq-2", customer_id="C-au", attributes=faq))
    terminal = await intake.post(report("pp-term", customer_id="C-t", attributes={"terminal_only": True}))
    again = await intake.post(report("pp-faq-3", customer_id="C-au", description="又一次来电"))
    unknown = await intake.post(report("pp-unknown", customer_id="C-not-in-crm", category_hint="overlay"))

    assert (consultation.json()["status"], consultation.json()["ticket_id"]) == ("recorded", None)
    assert "FAQ" in consultation.json()["reason"]
    assert gold.json()["status"] == "opened"  # gold customers skip pre-processing
    assert (again.json()["status"], again.json()["link"]) == ("linked", "duplicate_customer")
    assert again.json()["ticket_id"] == gold.json()["ticket_id"]
    by_report = {e.external_id: e for e in await intake.published(":pp-")}
    assert set(by_report) == {"pp-faq-2", "pp-faq-3", "pp-term", "pp-unknown"}
    assert (by_report["pp-faq-2"].tier, by_report["pp-faq-2"].city) == ("gold", "深圳")
    assert by_report["pp-term"].tier == "standard"
    assert (by_report["pp-unknown"].tier, by_report["pp-unknown"].verified) == ("standard", False)
    assert by_report["pp-unknown"].category == "overlay"
    assert unknown.json()["verified"] is False and terminal.status_code == 201


async def test_the_edge_refuses_what_it_must_with_reasons(intake_settings, running) -> None:
    settings = intake_settings(rate_limit_per_second=1, rate_limit_burst=3, max_body_bytes=2048, max_batch=2)
    async with running(settings) as intake:
        assert (await intake.post(report("x"), key="")).status_code == 401
        assert (await intake.post(report("x"), key="wrong")).status_code == 401

        bad = await intake.post(report("CC-bad", reported_at="yesterday"))
        assert bad.status_code == 422
        [problem] = bad.json()["detail"]
        assert problem["field"] == "reported_at" and "datetime" in problem["reason"]
        naive = await intake.post(report("CC-naive", reported_at="2026-03-02T01:00:00"))
        assert naive.status_code == 422 and naive.json()["detail"][0]["field"] == "reported_at"
        batch = await intake.post([report("CC-b1"), report("CC-b2", channel="fax")])
        assert batch.status_code == 422 and batch.json()["detail"][0]["field"] == "[1].channel"
        assert (await intake.post([report("1"), report("2"), report("3")])).status_code == 422  # over max_batch
        other = await intake.post(report("CC-o", source_system="am-app"))
        assert other.status_code == 403 and other.json()["detail"][0]["field"] == "source_system"
        large = await intake.post(report("CC-large", description="断" * 1000))
        assert large.status_code == 413

        ahead_at = (intake.runtime.clock.now() + timedelta(hours=2)).isoformat()
        ahead = await intake.post(report("CC-ahead", reported_at=ahead_at))
        assert ahead.status_code == 422 and ahead.json()["detail"][0]["field"] == "reported_at"
        assert "ahead of intake's clock" in ahead.json()["detail"][0]["reason"]
        long_ago = (intake.runtime.clock.now() - timedelta(days=40)).isoformat()
        late = await intake.post(report("CC-late", reported_at=long_ago), key="key-web")  # its own bucket
        assert late.status_code == 201  # a report made long ago is still a report, flagged
        assert late.json()["reported_late"] is True and "h before intake received it" in late.json()["reason"]
        again = await intake.http.get("/v1/reports/CC-late", headers={"X-API-Key": "key-web"})
        assert again.json()["outcome"]["reported_late"] is True

        dotted = await intake.post(report("CC-dot", attributes={"caller.city": "广州"}))
        assert dotted.status_code == 422 and dotted.json()["detail"][0]["field"] == "attributes"
        assert "caller.city" in dotted.json()["detail"][0]["reason"]
        half = await intake.post([report("CC-a1"), report("CC-a2", attributes={"$where": "1"})])
        assert half.status_code == 422 and half.json()["detail"][0]["field"] == "[1].attributes"
        first = await intake.post(report("CC-a1"))  # the batch was refused whole: its good report was not kept
        assert first.status_code == 201 and first.json()["status"] == "opened"

        ok = await intake.post([report("CC-r1"), report("CC-r2")])
        assert ok.status_code == 200 and [r["status"] for r in ok.json()["results"]] == ["opened", "opened"]
        responses = [await intake.post(report(f"CC-r{n}")) for n in range(3, 6)]
        limited = [r for r in responses if r.status_code == 429]
        assert limited and int(limited[0].headers["Retry-After"]) >= 1
        assert (await intake.post(report("CC-r9"), key="key-web")).status_code == 201  # another key, own bucket


async def test_openapi_documents_the_report_endpoints(intake) -> None:
    document = (await intake.http.get("/openapi.json")).json()
    post = document["paths"]["/v1/reports"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert "reported_at" in schema["oneOf"][0]["properties"] and schema["oneOf"][1]["type"] == "array"
    assert "/v1/reports/{external_id}" in document["paths"]
    assert (await intake.http.get("/docs")).status_code == 200
