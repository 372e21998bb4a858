"""XLSX with XlsxWriter: formulas and URLs from strings off (a customer's text stays text), explicit column widths
that fit Chinese (a CJK character is two columns wide), rates formatted as percentages, and native charts.

In memory, XlsxWriter dates every part of the package 1980-01-01, so a workbook whose document properties carry a
fixed `created` date is the same bytes every time it is written from the same data (the quarterly report's
snapshots rely on it)."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from reporting.exports.table import Cell, Table

OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
MAX_WIDTH = 50


def display_width(text: str) -> int:
    """Columns a text takes in Excel's default font: a wide (CJK) or full-width character two, others one."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def column_widths(table: Table) -> list[float]:
    """Per column: the widest of its header and cells, plus a margin, at most MAX_WIDTH."""
    out = []
    for i, header in enumerate(table.headers):
        texts = [header, *(_shown(r[i], table.kinds[i]) for r in table.rows if i < len(r))]
        out.append(float(min(max(display_width(t) for t in texts) + 2, MAX_WIDTH)))
    return out


def _shown(cell: Cell, kind: str) -> str:
    if cell is None:
        return ""
    if kind == "rate" and isinstance(cell, int | float):
        return f"{cell * 100:.2f}%"
    return str(cell)


@dataclass
class Formats:
    header: Any
    rate: Any
    number: Any
    text: Any
    title: Any
    blank: Any
    wrap: Any = field(default=None)


def _formats(book: Workbook) -> Formats:
    font = {"font_name": "Microsoft YaHei"}  # the Chinese UI font of Windows; Excel falls back elsewhere
    return Formats(
        header=book.add_format(
            {**font, "bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True, "valign": "vcenter"}
        ),
        rate=book.add_format({**font, "num_format": "0.00%", "border": 1}),
        number=book.add_format({**font, "num_format": "0.0", "border": 1}),
        text=book.add_format({**font, "border": 1}),
        title=book.add_format({**font, "bold": True, "font_size": 14}),
        blank=book.add_format({**font, "italic": True, "font_color": "#C00000"}),
        wrap=book.add_format({**font, "text_wrap": True, "valign": "top"}),
    )


def write_table(sheet: Worksheet, fmt: Formats, table: Table, *, first_row: int = 0) -> int:
    """The table at `first_row` (headers, then rows), typed cells only (never a formula); returns the next free row."""
    for col, header in enumerate(table.headers):
        sheet.write_string(first_row, col, header, fmt.header)
    for r, row in enumerate(table.rows, start=first_row + 1):
        for col, cell in enumerate(row):
            kind = table.kinds[col] if col < len(table.kinds) else "text"
            style = {"rate": fmt.rate, "number": fmt.number}.get(kind, fmt.text)
            if cell is None:
                sheet.write_blank(r, col, None, style)
            elif isinstance(cell, bool) or not isinstance(cell, int | float):
                sheet.write_string(r, col, str(cell), style)
            else:
                sheet.write_number(r, col, cell, style)
    return first_row + 1 + len(table.rows)


def _widths(sheet: Worksheet, table: Table, *, at_least: list[float] | None = None) -> list[float]:
    widths = column_widths(table)
    if at_least:
        widths = [max(w, at_least[i]) if i < len(at_least) else w for i, w in enumerate(widths)]
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width)
    return widths


def _book(out: io.BytesIO, *, title: str, created: datetime | None) -> Workbook:
    book = xlsxwriter.Workbook(out, OPTIONS)
    props: dict[str, Any] = {"title": title, "author": "Huying reporting", "company": "Huying"}
    if created is not None:
        props["created"] = created.replace(tzinfo=None)  # XlsxWriter writes it as UTC ("Z")
    book.set_properties(props)
    return book


def kpi_workbook(kpis: Table, facts: Table, *, sheet_names: tuple[str, str], chart_title: str,
                 created: datetime | None = None) -> bytes:  # fmt: skip
    """Sheet 1: the KPI table, frozen headers, and a column chart of every rate by group (by the total when not
    grouped). Sheet 2: the masked facts."""
    out = io.BytesIO()
    book = _book(out, title=chart_title, created=created)
    fmt = _formats(book)
    sheet = book.add_worksheet(sheet_names[0])
    end = write_table(sheet, fmt, kpis)
    _widths(sheet, kpis)
    sheet.freeze_panes(1, kpis.label_columns)
    sheet.set_row(0, 45)
    rows = len(kpis.rows)
    # Categories: the groups (without the total row) when grouped, else the total alone.
    first, last = (1, rows - 1) if rows > 1 else (1, 1)
    chart = book.add_chart({"type": "column"})
    for col, kind in enumerate(kpis.kinds):
        if kind != "rate":
            continue
        chart.add_series({
            "name": [sheet.name, 0, col], "categories": [sheet.name, first, 0, last, 0],
            "values": [sheet.name, first, col, last, col],
        })  # fmt: skip
    chart.set_title({"name": chart_title})
    chart.set_y_axis({"num_format": "0%", "min": 0, "max": 1})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 960, "height": 420})
    sheet.insert_chart(end + 2, 0, chart)
    facts_sheet = book.add_worksheet(sheet_names[1])
    write_table(facts_sheet, fmt, facts)
    _widths(facts_sheet, facts)
    facts_sheet.freeze_panes(1, 1)
    book.close()
    return out.getvalue()


@dataclass
class ChartSpec:
    """A native chart of one table's column: `kind` column/line/pie, values in `column`, categories in column 0."""

    title: str
    column: int
    kind: str = "column"
    percent: bool = False


@dataclass
class Block:
    """A titled table of a report section, optionally charted."""

    title: str
    table: Table
    chart: ChartSpec | None = None


@dataclass
class Section:
    """A section of the quarterly report: data blocks, or a narrative left to be written (`blank`)."""

    number: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    blank: str | None = None
    note: str | None = None


def report_workbook(title: str, subtitle: str, sections: list[Section], *, contents: str, blank_hint: str,
                    created: datetime) -> bytes:  # fmt: skip
    """The quarterly report: a contents sheet listing every section (and which are to be written), then one
    sheet per section; blocks stacked with a blank row between, each chart beside its table."""
    out = io.BytesIO()
    book = _book(out, title=title, created=created)
    fmt = _formats(book)
    toc = book.add_worksheet(contents)
    toc.write_string(0, 0, title, fmt.title)
    toc.write_string(1, 0, subtitle)
    toc.set_column(0, 0, 40)
    toc.set_column(1, 1, 16)
    for i, s in enumerate(sections, start=3):
        toc.write_string(i, 0, f"{s.number}、{s.title}")
        toc.write_string(i, 1, s.blank or "", fmt.blank)
    for s in sections:
        sheet = book.add_worksheet(f"{s.number}、{s.title}"[:31])
        sheet.write_string(0, 0, f"{s.number}、{s.title}", fmt.title)
        row = 2
        widths: list[float] = []
        if s.note:
            sheet.write_string(1, 0, s.note)
        if s.blank:
            sheet.write_string(row, 0, s.blank, fmt.blank)
            sheet.merge_range(row + 1, 0, row + 12, 7, blank_hint, fmt.wrap)
            sheet.set_column(0, 7, 12)
            continue
        for block in s.blocks:
            sheet.write_string(row, 0, block.title, fmt.header)
            start = row + 1
            row = write_table(sheet, fmt, block.table, first_row=start) + 1
            fit = column_widths(block.table)
            widths = [max(widths[i] if i < len(widths) else 0.0, fit[i] if i < len(fit) else 0.0)
                      for i in range(max(len(widths), len(fit)))]  # fmt: skip
            spec = block.chart
            if spec and block.table.rows:
                chart = book.add_chart({"type": spec.kind})
                n = len(block.table.rows)
                chart.add_series({
                    "name": [sheet.name, start, spec.column],
                    "categories": [sheet.name, start + 1, 0, start + n, 0],
                    "values": [sheet.name, start + 1, spec.column, start + n, spec.column],
                    "data_labels": {"percentage": True} if spec.kind == "pie" else {"value": True},
                })  # fmt: skip
                chart.set_title({"name": spec.title})
                if spec.percent:
                    chart.set_y_axis({"num_format": "0%", "min": 0, "max": 1})
                chart.set_legend({"none": True} if spec.kind != "pie" else {"position": "right"})
                chart.set_size({"width": 520, "height": 300})
                sheet.insert_chart(start, len(block.table.headers) + 1, chart)
                row = max(row, start + 17)
        for col, width in enumerate(widths):
            sheet.set_column(col, col, width)
    book.close()
    return out.getvalue()
