"""The answer of `GET /v1/kpis` as one table (a row per group, then the total), what the CSV and the XLSX print.

A cell is a string, a number or None (empty); a rate is a fraction (the CSV prints it in percent, the XLSX formats
it as a percentage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reporting.domain import kpis
from reporting.exports.labels import GROUP_NAMES, Lang, kpi_name, pick, value, word

Cell = str | int | float | None


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    kinds: list[str] = field(default_factory=list)  # per column: "text", "count", "rate", "number"
    label_columns: int = 1  # the leading columns that name a row (its group)


def kpi_table(answer: dict[str, Any], lang: Lang) -> Table:
    """Columns: the group's keys (or one 「合计」 column), tickets, per rate met / due / rate, MTTR, satisfaction,
    severe faults. Rows: each group in the answer's order, then the total of everything matched."""
    keys: list[str] = list(answer.get("group_by") or [])
    labels = [pick(GROUP_NAMES[k], lang) for k in keys] or [word("all", lang)]
    headers, kinds = [*labels, word("tickets", lang)], ["text"] * len(labels) + ["count"]
    for name in kpis.RATES:
        shown = kpi_name(name, lang)
        sep = "" if lang == "zh" else " "
        headers += [f"{shown}{sep}{word(w, lang)}" for w in ("met", "due", "rate")]
        kinds += ["count", "count", "rate"]
    extra = ("mttr_tickets", "mttr_minutes", "satisfaction_records", "satisfaction_percent", "severe_counted",
             "severe_total")  # fmt: skip
    headers += [word(w, lang) for w in extra]
    kinds += ["count", "number", "count", "number", "count", "count"]

    def row(label: list[Cell], figures: dict[str, Any]) -> list[Cell]:
        out: list[Cell] = [*label, figures.get("tickets", 0)]
        for name in kpis.RATES:
            f = figures.get(name) or {}
            out += [f.get("met", 0), f.get("due", 0), f.get("rate")]
        m, s, v = figures.get("mttr") or {}, figures.get("satisfaction") or {}, figures.get("severe_faults") or {}
        mean = m.get("mean_seconds")
        out += [m.get("tickets", 0), None if mean is None else round(mean / 60, 1), s.get("records", 0),
                s.get("percent"), v.get("counted", 0), v.get("total", 0)]  # fmt: skip
        return out

    rows = [row([value(g["key"].get(k), lang) for k in keys], g["kpis"]) for g in answer.get("groups", [])]
    total = [word("all", lang)] + [""] * (len(labels) - 1)
    rows.append(row(total, answer.get("all", {}).get("kpis", {})))
    return Table(headers, rows, kinds, len(labels))


FACT_COLUMNS: list[tuple[str, tuple[str, str]]] = [
    ("ticket_id", ("工单号", "Ticket")), ("kind", ("类型", "Kind")), ("reported_at", ("上报时间", "Reported at")),
    ("customer_id", ("客户编号", "Customer")), ("service_line_id", ("业务编号", "Service line")),
    ("tier", ("客户等级", "Tier")), ("city", ("城市", "City")), ("category", ("业务类别", "Category")),
    ("assurance_level", ("保障等级", "Assurance level")), ("severity", ("严重程度", "Severity")),
    ("status", ("状态", "Status")), ("cause_category", ("原因分类", "Cause")), ("teams", ("处理班组", "Teams")),
    ("restore_net_minutes", ("恢复历时（分钟，净）", "Restore (min, net)")),
    ("breaches", ("超时次数", "Breaches")),
]  # fmt: skip
CODED = {"kind", "tier", "category", "severity", "status", "cause_category"}


def facts_table(facts: list[dict[str, Any]], lang: Lang) -> Table:
    """One row per ticket, masked: ids, classification, times and outcomes; never a contact, a phone number or a
    description (`queries.fact_rows` does not even read them)."""
    rows: list[list[Cell]] = []
    for f in facts:
        net = f.get("restore_net_seconds")
        derived = {"restore_net_minutes": None if net is None else round(net / 60, 1),
                   "teams": "、".join(f.get("teams") or []), "breaches": len(f.get("breaches") or [])}  # fmt: skip
        cells: list[Cell] = []
        for name, _ in FACT_COLUMNS:
            raw = derived[name] if name in derived else f.get(name)
            if name in CODED:
                raw = value(raw, lang) if raw is not None else None
            elif name == "reported_at" and raw is not None:
                raw = raw.strftime("%Y-%m-%d %H:%M")
            cells.append(raw)
        rows.append(cells)
    kinds = ["number" if n == "restore_net_minutes" else "count" if n == "breaches" else "text"
             for n, _ in FACT_COLUMNS]  # fmt: skip
    return Table([pick(label, lang) for _, label in FACT_COLUMNS], rows, kinds)
