"""reporting's exports over the real database (the service in-process, its Kafka consumers running): the KPI query
as CSV and XLSX; the quarterly report (季报) as XLSX and PDF, live while the quarter is open, then filed as an
immutable snapshot that later requests render byte for byte (even after new facts arrive) until an admin's refresh
stores a new version beside it; every route needs a token with the `kpis` permission."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
from datetime import timedelta

import openpyxl
import pytest
from PIL import Image

from huying.crm_replica import apply_crm_event
from huying.events import CustomerUpserted, ServiceLineUpserted
from reporting.exports import quarterly
from reporting.store import SNAPSHOTS, apply_ticket_event
from tests.support.auth import ADMIN, AGENT, TEAM_LEAD
from tests.unit.reporting.builders import (
    T0,
    breached,
    closed,
    dispatched,
    gold_fault,
    opened,
    resolved,
    severe,
    started,
)

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Q1 = {"year": 2026, "quarter": 1}  # the builders' tickets are of March 2026
TITLES = [f"{n}、{title}" for n, (title, _) in zip(quarterly.NUMERALS, quarterly.TITLES.values(), strict=True)]


def severe_fault(ticket_id: str):
    return [
        opened(ticket_id, tier="silver", city="深圳", service_line_id="L-02"), dispatched(ticket_id),
        started(ticket_id, "restore", at=0, due=120), severe(ticket_id), breached(ticket_id, "restore", due=120),
        resolved(ticket_id, restored=400), closed(ticket_id, at=410),
    ]  # fmt: skip


async def _facts(db, *tickets: tuple[str, list]) -> None:
    """Facts through the read model's own apply path (what the Kafka handler calls for each event)."""
    for ticket_id, events in tickets:
        for event in events:
            await apply_ticket_event(db, ticket_id, event)


async def _crm(db) -> None:
    for i, (tier, city) in enumerate([("gold", "广州"), ("gold", "广州"), ("silver", "深圳")]):
        await apply_crm_event(db, CustomerUpserted(customer_id=f"C-{i}", name=f"客户{i}", tier=tier, city=city,
                                                   contacts=[{"name": "王伟", "phone": "13800138000"}]))  # fmt: skip
    await apply_crm_event(db, ServiceLineUpserted(service_line_id="L-01", customer_id="C-0", product="互联网专线",
                                                  category="access", scope="intra_city", cities=["广州"]))  # fmt: skip


def _read_pdf(pdf: bytes, tmp_path) -> tuple[int, str]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    # The first page as an image (what the browser test will look at): it exists and is not blank.
    first = ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")]
    subprocess.run(first, check=True)
    with Image.open(tmp_path / "page-01.png") as page:
        low, high = page.convert("L").getextrema()
    assert low < 128 < high  # dark text on white
    return pages, text


async def test_every_export_needs_a_token_with_the_kpis_permission(reporting) -> None:
    for path, params in (("/v1/kpis.csv", {}), ("/v1/kpis.xlsx", {}), ("/v1/reports/quarterly", Q1)):
        assert (await reporting.get(path, None, **params)).status_code == 401
        assert (await reporting.get(path, AGENT, **params)).status_code == 403  # an agent has no `kpis`


async def test_the_kpis_as_csv_and_xlsx(reporting) -> None:
    db = reporting.runtime.db
    await _facts(db, ("A", gold_fault("A")), ("S", severe_fault("S")))
    window = {"from": "2026-03-01T00:00:00", "to": "2026-04-01T00:00:00", "group_by": "city"}
    answer = await reporting.get("/v1/kpis.csv", TEAM_LEAD, **window)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content[3:].decode("utf-8"))))
    assert rows[0][:2] == ["城市", "工单数"] and [r[0] for r in rows[1:]] == ["广州", "深圳", "合计"]
    assert rows[-1][1] == "2"
    english = await reporting.get("/v1/kpis.csv", TEAM_LEAD, lang="en", **window)
    assert english.content[3:].decode("utf-8").startswith("City,Tickets")

    answer = await reporting.get("/v1/kpis.xlsx", TEAM_LEAD, **window)
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    kpi_sheet, facts = book["指标"], book["工单明细"]
    assert [r[0] for r in kpi_sheet.iter_rows(min_row=2, values_only=True)] == ["广州", "深圳", "合计"]
    assert kpi_sheet._charts, "the KPI sheet has a native chart"
    detail = list(facts.iter_rows(values_only=True))
    assert detail[0][0] == "工单号" and sorted(r[0] for r in detail[1:]) == ["A", "S"]
    assert "13800138000" not in str(detail) and "王伟" not in str(detail)


async def test_the_quarterly_report_is_filed_once_the_quarter_is_over_and_regenerated_exactly(
    reporting, tmp_path
) -> None:
    db = reporting.runtime.db
    await _crm(db)
    await _facts(db, ("A", gold_fault("A")), ("S", severe_fault("S")))

    live = await reporting.get("/v1/reports/quarterly", TEAM_LEAD, **Q1)  # March: the quarter is still open
    assert live.status_code == 200 and live.headers["x-report-version"] == "live"
    assert await db[SNAPSHOTS].count_documents({}) == 0

    reporting.clock.advance(T0.replace(month=4, day=2) - T0)  # 2 April: Q1 is over
    first = await reporting.get("/v1/reports/quarterly", TEAM_LEAD, **Q1)
    assert first.status_code == 200 and first.headers["content-type"] == XLSX
    assert first.headers["x-report-version"] == "1"
    book = openpyxl.load_workbook(io.BytesIO(first.content))
    assert book.sheetnames[1:] == [t[:31] for t in TITLES]
    services = book[TITLES[2]]
    assert any(row[0] == "时限内恢复" for row in services.iter_rows(values_only=True))
    assert book[TITLES[0]]["A3"].value == "待填写"
    cases = [row[0] for row in book[TITLES[5]].iter_rows(min_row=5, values_only=True) if row[0]]
    assert cases[:2] == ["S", "A"]  # the severe fault, then the longest restoration
    customers = list(book[TITLES[1]].iter_rows(values_only=True))
    assert ("金牌", 2) in [r[:2] for r in customers] and ("广州", 2) in [r[:2] for r in customers]

    await _facts(db, ("LATE", gold_fault("LATE")))  # a fact of Q1 arrives after the report was filed
    reporting.clock.advance(timedelta(days=3))
    again = await reporting.get("/v1/reports/quarterly", TEAM_LEAD, **Q1)
    assert again.content == first.content and again.headers["x-report-hash"] == first.headers["x-report-hash"]

    pdf = await reporting.get("/v1/reports/quarterly", TEAM_LEAD, format="pdf", **Q1)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    pages, text = _read_pdf(pdf.content, tmp_path)
    assert pages == 12  # cover and contents, one page or more per section (quarterly.html), for this data
    for title in TITLES:
        assert title in text
    assert text.count("待填写") >= 8 and f"第 1 页 / 共 {pages} 页" in text
    assert (await reporting.get("/v1/reports/quarterly", TEAM_LEAD, format="pdf", **Q1)).content == pdf.content
    refused = await reporting.get("/v1/reports/quarterly", TEAM_LEAD, refresh="true", **Q1)
    assert refused.status_code == 403
    refreshed = await reporting.get("/v1/reports/quarterly", ADMIN, refresh="true", **Q1)
    assert refreshed.status_code == 200 and refreshed.headers["x-report-version"] == "2"
    assert refreshed.headers["x-report-hash"] != first.headers["x-report-hash"]  # LATE is in the new version
    assert (await reporting.get("/v1/reports/quarterly", TEAM_LEAD, **Q1)).headers["x-report-version"] == "2"
    kept = await reporting.get("/v1/reports/quarterly", TEAM_LEAD, version=1, **Q1)
    assert kept.content == first.content  # the filed version is kept, not overwritten
    assert await db[SNAPSHOTS].count_documents({"period": "2026-Q1"}) == 2
    assert (await reporting.get("/v1/reports/quarterly", TEAM_LEAD, version=3, **Q1)).status_code == 404


async def test_two_first_requests_at_once_file_one_report_and_a_tampered_one_is_refused(reporting) -> None:
    db = reporting.runtime.db
    await _facts(db, ("A", gold_fault("A")))
    reporting.clock.advance(T0.replace(month=4, day=2) - T0)
    both = await asyncio.gather(*[reporting.get("/v1/reports/quarterly", TEAM_LEAD, **Q1) for _ in range(2)])
    assert [r.status_code for r in both] == [200, 200]
    assert both[0].content == both[1].content and {r.headers["x-report-version"] for r in both} == {"1"}
    assert await db[SNAPSHOTS].count_documents({"period": "2026-Q1"}) == 1

    await db[SNAPSHOTS].update_one({"_id": "2026-Q1|v1"}, {"$set": {"data.work.tickets": 99}})
    tampered = await reporting.get("/v1/reports/quarterly", TEAM_LEAD, **Q1)
    assert tampered.status_code == 500 and "does not match its hash" in tampered.json()["detail"]
