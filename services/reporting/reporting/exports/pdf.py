"""The quarterly report as a PDF that prints well in Chinese: HTML from a Jinja2 template
(`reporting/report_templates/quarterly.html`), laid out by WeasyPrint on A4 with Debian's Noto Sans CJK SC, page
numbers in the footer, every chart an SVG drawn here (reporting.exports.svg).

Reproducible: the document's created and modified dates are the snapshot's generation time (`dcterms.*` meta) and
the PDF identifier is derived from the snapshot's content hash, so the same snapshot gives the same PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from reporting.exports import quarterly, svg
from reporting.exports.labels import Lang
from reporting.exports.xlsx import Block, Section

TEMPLATES = Path(__file__).resolve().parent.parent / "report_templates"
ENV = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), keep_trailing_newline=True
)


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate" and isinstance(value, int | float):
        return f"{value * 100:.2f}%"
    return str(value)


def chart(block: Block) -> Markup | None:
    """The block's chart as inline SVG (a pie is drawn as bars: shares read as well and print in one colour)."""
    spec = block.chart
    if spec is None or not block.table.rows:
        return None
    labels = [str(r[0]) for r in block.table.rows]
    values = [r[spec.column] if isinstance(r[spec.column], int | float) else None for r in block.table.rows]
    if spec.kind == "line":
        drawn = svg.line_chart(labels, {spec.title: values}, title=spec.title, percent=spec.percent)
    else:
        drawn = svg.bar_chart(labels, values, title=spec.title, percent=spec.percent)
    return Markup(drawn)


def html(snapshot: dict[str, Any], lang: Lang) -> str:
    data = snapshot["data"]
    parts: list[Section] = quarterly.sections(data, lang)
    return ENV.get_template("quarterly.html").render(
        lang="zh-CN" if lang == "zh" else "en",
        title=quarterly.t("report", lang),
        subtitle=quarterly.t("quarter", lang, year=data["year"], quarter=data["quarter"]),
        contents=quarterly.t("contents", lang),
        hint=quarterly.t("blank_hint", lang),
        sections=parts,
        cell=_cell,
        chart=chart,
        created=data["generated_at"],
        generated=quarterly.t("generated", lang, at=quarterly.local_time(data["generated_at"])),
        version_label=quarterly.t("version", lang),
        version=snapshot.get("version"),
        digest=snapshot.get("hash", "")[:16],
        page_label=("第 ", " 页 / 共 ", " 页") if lang == "zh" else ("Page ", " of ", ""),
    )


def render(snapshot: dict[str, Any], lang: Lang) -> bytes:
    from weasyprint import HTML  # imported when a PDF is asked for: it loads Pango

    identifier = (snapshot.get("hash") or "0" * 32)[:32].encode()
    return HTML(string=html(snapshot, lang), base_url=str(TEMPLATES)).write_pdf(pdf_identifier=identifier)
