"""reporting's exports, pure: the CSV neutralises every formula-looking cell and is read by Excel as UTF-8; the XLSX
holds typed cells (never a formula), fitted widths and a native chart; the SVG charts are well-formed XML whatever
their labels; the snapshot rule; the quarterly report's sections and the same bytes from the same snapshot."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reporting import store
from reporting.api import kpi_response, quarterly_xlsx
from reporting.domain import kpis
from reporting.exports import csvfile, pdf, quarterly, svg, table, xlsx
from reporting.exports.quarterly import SnapshotError, plan
from tests.unit.reporting.builders import entries, gold_fault

pytestmark = pytest.mark.unit

FORMULA = ("=", "+", "-", "@", "\t", "\r")
cells = st.one_of(st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                  st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12))  # fmt: skip


def _read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel on Chinese Windows reads UTF-8, not GBK
    return list(csv.reader(io.StringIO(body[3:].decode("utf-8"), newline="")))


@given(st.lists(st.lists(cells, min_size=3, max_size=3), max_size=8))
def test_no_csv_cell_begins_with_a_formula_character_and_each_round_trips(rows: list[list[Any]]) -> None:
    body = csvfile.to_csv(["=头", "+b", "c"], rows)
    parsed = _read_csv(body)
    assert len(parsed) == len(rows) + 1
    for out_row, in_row in zip(parsed[1:], rows, strict=True):
        for out, cell in zip(out_row, in_row, strict=True):
            assert not out.startswith(FORMULA), out
            text = "" if cell is None else str(cell)
            assert out == text or out == "'" + text  # only the apostrophe is added, and only before a formula start
            assert (out != text) == text.startswith(FORMULA)
    assert parsed[0] == ["'=头", "'+b", "c"]


def _facts(ticket_id: str, **overrides: Any) -> dict[str, Any]:
    return {**store.document(entries(*gold_fault(ticket_id))), "ticket_id": ticket_id, **overrides}


def _answer(group_by: list[str], facts: list[dict[str, Any]]) -> dict[str, Any]:
    """What GET /v1/kpis answers for these facts grouped by `group_by` (kpi_response over summed contributions)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for f in facts:
        groups.setdefault(tuple(f.get(k) for k in group_by), []).append(f["kpi"])

    def row(key: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
        sums = kpis.totals(items)
        flat = {p.replace(".", "__"): _get(sums, p) for p in kpis.leaves(sums)}
        return {"_id": key, **flat}

    found = {
        "groups": [row(dict(zip(group_by, k, strict=True)), v) for k, v in groups.items()],
        "all": [row(None, [f["kpi"] for f in facts])], "breaches": [], "all_breaches": [],
    }  # fmt: skip
    return {"group_by": group_by, **kpi_response(found, group_by)}


def _get(d: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        d = d[part]
    return d


def test_the_kpi_csv_has_chinese_headers_by_default_and_english_on_request() -> None:
    answer = _answer(["city"], [_facts("T-1"), _facts("T-2", city='=HYPERLINK("http://x")')])
    zh = _read_csv(csvfile.table_csv(table.kpi_table(answer, "zh")))
    assert zh[0][:2] == ["城市", "工单数"] and "时限内恢复达标率(%)" in zh[0]
    assert [r[0] for r in zh[1:]] == ['\'=HYPERLINK("http://x")', "广州", "合计"]
    restore = zh[0].index("时限内恢复达标率(%)")
    assert zh[-1][restore] == "100.00" and zh[-1][1] == "2"
    en = _read_csv(
        csvfile.table_csv(
            table.kpi_table(
                answer,
                "en",
            )
        )
    )
    assert en[0][:2] == ["City", "Tickets"] and en[-1][0] == "All"


def _book(body: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(body))


def _kpi_book(facts: list[dict[str, Any]]) -> bytes:
    answer = _answer(["city"], facts)
    return xlsx.kpi_workbook(table.kpi_table(answer, "zh"), table.facts_table(facts, "zh"),
                             sheet_names=("指标", "工单明细"), chart_title="达标率")  # fmt: skip


def test_the_kpi_xlsx_holds_typed_values_no_formulas_fitted_widths_and_a_chart() -> None:
    facts = [_facts("T-1"), _facts("T-2", city="=1+1", tier="silver")]
    body = _kpi_book(facts)
    book = _book(body)
    sheet, detail = book["指标"], book["工单明细"]
    headers = [c.value for c in sheet[1]]
    assert headers[:2] == ["城市", "工单数"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == ["=1+1", "广州", "合计"]
    assert sheet["A2"].data_type == "s"  # a string, not a formula (strings_to_formulas is off)
    rate_col = headers.index("时限内恢复达标率") + 1
    assert sheet.cell(4, rate_col).value == 1.0 and sheet.cell(4, rate_col).number_format == "0.00%"
    for ws in (sheet, detail):
        for row in ws.iter_rows():
            assert all(c.data_type != "f" for c in row)
    width = sheet.column_dimensions["B"].width  # "工单数": three CJK characters, six columns, plus the margin
    assert width is not None and width >= xlsx.display_width("工单数")
    assert detail.column_dimensions["A"].width >= 6
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())
        assert b"<c:barChart>" in z.read("xl/charts/chart1.xml")
    detail_headers = [c.value for c in detail[1]]
    assert "工单号" in detail_headers and not {"联系人", "电话", "contact", "phone"} & set(detail_headers)
    flat = " ".join(str(v) for r in detail.iter_rows(values_only=True) for v in r)
    assert "王伟" not in flat and "13800138000" not in flat  # the builder's contact never reaches the sheet


def test_display_width_counts_a_cjk_character_twice() -> None:
    assert (xlsx.display_width("abc"), xlsx.display_width("工单"), xlsx.display_width("（%）")) == (3, 4, 5)


@given(st.lists(st.tuples(st.text(max_size=10), st.one_of(st.none(), st.floats(0, 1e6))), max_size=12),
       st.text(max_size=20), st.booleans())  # fmt: skip
def test_svg_charts_are_well_formed_xml_whatever_the_labels(points, title: str, percent: bool) -> None:
    labels, values = [p[0] for p in points], [p[1] for p in points]
    if percent:
        values = [None if v is None else min(v, 1.0) for v in values]
    ns = "{http://www.w3.org/2000/svg}"
    drawn = [v for v in values if v is not None]
    bars = ET.fromstring(svg.bar_chart(labels, values, title=title, percent=percent))
    line = ET.fromstring(svg.line_chart(labels, {title or "s": values}, title=title, percent=percent))
    assert bars.tag == line.tag == f"{ns}svg"
    assert len(bars.findall(f"{ns}rect")) == len(drawn)  # one bar per value
    assert len(line.findall(f"{ns}circle")) == len(drawn)  # one point per value


def test_a_bar_chart_draws_one_bar_per_value_scaled_to_the_axis() -> None:
    root = ET.fromstring(svg.bar_chart(["金牌", "银牌", "铜牌"], [10, 5, None], title="工单 <数>"))
    ns = "{http://www.w3.org/2000/svg}"
    bars = root.findall(f"{ns}rect")
    assert len(bars) == 2 and float(bars[0].get("height")) == 2 * float(bars[1].get("height"))
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "工单 <数>" in texts and "金牌" in texts and "铜牌" in texts


# ---- snapshots ------------------------------------------------------------------------------------------------


def test_the_snapshot_rule() -> None:
    assert plan(closed=False, latest=None, refresh=False, admin=False, version=None).decision == "live"
    assert plan(closed=True, latest=None, refresh=False, admin=False, version=None) == quarterly.Plan("create", 1)
    assert plan(closed=True, latest=2, refresh=False, admin=True, version=None) == quarterly.Plan("use", 2)
    assert plan(closed=True, latest=2, refresh=True, admin=True, version=None) == quarterly.Plan("new_version", 3)
    assert plan(closed=True, latest=2, refresh=False, admin=False, version=1) == quarterly.Plan("use", 1)
    for kwargs, status in (
        ({"closed": True, "latest": 1, "refresh": True, "admin": False, "version": None}, 403),
        ({"closed": True, "latest": 1, "refresh": False, "admin": False, "version": 2}, 404),
        ({"closed": True, "latest": 1, "refresh": True, "admin": True, "version": 1}, 400),
        ({"closed": False, "latest": None, "refresh": True, "admin": True, "version": None}, 409),
    ):
        with pytest.raises(SnapshotError) as raised:
            plan(**kwargs)
        assert raised.value.status == status


def test_quarter_bounds_are_shanghai_and_a_quarter_closes_at_its_end() -> None:
    start, end = quarterly.quarter_bounds(2026, 4)
    assert (start.isoformat(), end.isoformat()) == ("2026-10-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00")
    assert quarterly.quarter_bounds(2026, 1)[1].isoformat() == "2026-04-01T00:00:00+08:00"
    assert not quarterly.is_closed(2026, 4, datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC))
    assert quarterly.is_closed(2026, 4, datetime(2026, 12, 31, 16, 0, tzinfo=UTC))  # midnight in Shanghai


@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=5))
def test_the_content_hash_ignores_key_order(d: dict[str, int]) -> None:
    assert quarterly.content_hash(d) == quarterly.content_hash(dict(reversed(list(d.items()))))


def sample_data() -> dict[str, Any]:
    """A quarter's data as `queries.collect` returns it (JSON-ready)."""
    figures = kpis.figures(kpis.totals([_facts("T-1")["kpi"], _facts("T-2")["kpi"]]))
    return {
        "period": "2026-Q1", "year": 2026, "quarter": 1, "from": "2026-01-01T00:00:00+08:00",
        "to": "2026-04-01T00:00:00+08:00", "generated_at": "2026-04-02T01:00:00+00:00",
        "customers": {"total": 3, "by_tier": [["gold", 2], ["silver", 1]], "by_city": [["广州", 2], ["深圳", 1]],
                      "lines_by_category": [["access", 4]]},
        "kpis": figures, "kpis_by_tier": [["gold", figures]], "monthly": [["2026-03", figures]],
        "breaches": [{"clock": "contact", "cause": "operator_equipment", "count": 2}],
        "work": {"tickets": 2, "by_category": [["access", 2]], "by_cause": [["operator_equipment", 2]],
                 "by_city": [["广州", 2]], "by_status": [["closed", 2]]},
        "cases": [{"ticket_id": "T-1", "reported_at": "2026-03-02T02:00:00+00:00", "city": "广州", "tier": "gold",
                   "category": "access", "severity": "severe", "severe_counted": False,
                   "cause_category": "customer_side", "restore_net_seconds": 3000.0, "teams": ["gz-access-ops"]}],
    }  # fmt: skip


def test_the_report_has_every_section_in_order_and_the_narrative_ones_are_marked_blank() -> None:
    parts = quarterly.sections(sample_data(), "zh")
    assert [f"{s.number}、{s.title}" for s in parts] == [
        "一、响应组织情况", "二、集团客户基本情况", "三、提供的网络服务情况", "四、支撑项目情况", "五、完成的工作情况",
        "六、典型案例", "七、存在的问题和建议", "八、下季度工作计划",
    ]  # fmt: skip
    assert [s.blank for s in parts] == ["待填写", None, None, "待填写", None, None, "待填写", "待填写"]
    assert all(s.blocks for s in parts if not s.blank)
    case = parts[5].blocks[0].table.rows[0]
    assert case[0] == "T-1" and case[1] == "2026-03-02 10:00" and "不计入" in case[5]  # proven not ours


def test_typical_cases_are_the_severe_faults_then_the_longest() -> None:
    found = [{"ticket_id": f"T-{i}", "severity": "normal", "restore_net_seconds": i * 60.0} for i in range(1, 9)]
    found.append({"ticket_id": "T-S", "severity": "severe", "restore_net_seconds": 10.0})
    assert [c["ticket_id"] for c in quarterly.typical_cases(found)] == ["T-S", "T-8", "T-7", "T-6", "T-5", "T-4"]


def test_the_same_snapshot_gives_the_same_workbook_bytes_dated_by_its_generation() -> None:
    data = sample_data()
    doc = {"period": "2026-Q1", "version": 1, "hash": quarterly.content_hash(data), "data": data}
    first, again = quarterly_xlsx(doc, "zh"), quarterly_xlsx(doc, "zh")
    assert first == again
    book = _book(first)
    assert book.properties.created == datetime(2026, 4, 2, 1, 0)
    assert book.sheetnames[0] == "目录" and "一、响应组织情况" in book.sheetnames
    assert book["一、响应组织情况"]["A3"].value == "待填写"
    assert all(c.data_type != "f" for ws in book for row in ws.iter_rows() for c in row)


def test_the_pdf_html_names_every_section_dates_itself_and_draws_svg() -> None:
    data = sample_data()
    page = pdf.html({"version": 1, "hash": quarterly.content_hash(data), "data": data}, "zh")
    for s in quarterly.sections(data, "zh"):
        assert f"{s.number}、{s.title}" in page
    assert page.count("<svg") >= 4 and '"Noto Sans CJK SC"' in page and "size: A4" in page
    assert 'name="dcterms.created" content="2026-04-02T01:00:00+00:00"' in page


def test_the_report_in_english_has_the_same_sections_and_page_numbers_in_english() -> None:
    data = sample_data()
    parts = quarterly.sections(data, "en")
    assert [s.title for s in parts][:3] == ["Response organisation", "Enterprise customers' basics",
                                            "Network services provided"]  # fmt: skip
    assert [s.blank for s in parts].count("To be written") == 4
    page = pdf.html({"version": None, "hash": "", "data": data}, "en")
    assert '"Page " counter(page) " of " counter(pages)' in page and 'lang="en"' in page


def test_a_chart_of_values_too_small_to_draw_keeps_a_unit_axis() -> None:
    assert svg._nice_max(5e-324) == 1.0 and svg._nice_max(0) == 1.0 and svg._nice_max(7) == 10
    ET.fromstring(svg.bar_chart(["a"], [5e-324]))  # a subnormal value once scaled the axis to 0 (hypothesis)
