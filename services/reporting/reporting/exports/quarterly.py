"""The quarterly report (季报, DOMAIN.md "KPIs the center is judged by"): its eight sections, filled from the data
of a quarter where data can fill them, the narrative ones left as marked blanks (「待填写」), and the rules of its
immutable snapshots. Pure: the data comes from `queries.collect`, time is passed in.

Sections (DOMAIN.md: "the response organisation, enterprise customers' basics, network services provided, support
projects, work completed, typical cases, problems and suggestions, next quarter's plan"):

| section | filled from |
|---|---|
| 一 response organisation | blank: who is on duty is not in the data |
| 二 enterprise customers' basics | CRM replica: customers by tier and city, lines by category (as of generation) |
| 三 network services provided | the quarter's KPIs (rates, MTTR, satisfaction, severe faults), by tier and by month |
| 四 support projects | blank |
| 五 work completed | the quarter's tickets by category, cause, city and status; breaches by clock and cause |
| 六 typical cases | the quarter's severe faults and longest restorations (net of suspended and excluded time) |
| 七 problems and suggestions, 八 next quarter's plan | blank |
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from reporting.domain import kpis
from reporting.domain.facts import SHANGHAI
from reporting.exports.labels import Lang, kpi_name, pick, value
from reporting.exports.table import Table
from reporting.exports.xlsx import Block, ChartSpec, Section

BLANK = ("待填写", "To be written")
CASES = 10  # typical cases listed at most: every severe fault first, then the longest restorations
LONGEST = 5  # of which the longest restorations that are not severe

TITLES: dict[str, tuple[str, str]] = {
    "organisation": ("响应组织情况", "Response organisation"),
    "customers": ("集团客户基本情况", "Enterprise customers' basics"),
    "services": ("提供的网络服务情况", "Network services provided"),
    "projects": ("支撑项目情况", "Support projects"),
    "work": ("完成的工作情况", "Work completed"),
    "cases": ("典型案例", "Typical cases"),
    "problems": ("存在的问题和建议", "Problems and suggestions"),
    "plan": ("下季度工作计划", "Next quarter's plan"),
}
ORDER = ("organisation", "customers", "services", "projects", "work", "cases", "problems", "plan")
NARRATIVE = frozenset({"organisation", "projects", "problems", "plan"})
NUMERALS = "一二三四五六七八"
TEXT: dict[str, tuple[str, str]] = {
    "report": ("集团客户服务季报", "Enterprise customer service quarterly report"),
    "quarter": ("{year}年第{quarter}季度", "{year} Q{quarter}"),
    "contents": ("目录", "Contents"),
    "blank_hint": ("本节为叙述内容，请在此填写。", "A narrative section: write it here."),
    "generated": ("生成于 {at}", "Generated {at}"), "version": ("版本", "version"),
    "as_of": ("客户数据截至 {at}（CRM 副本）", "Customer data as of {at} (CRM replica)"),
    "by_tier": ("按客户等级", "By tier"), "by_city": ("按城市", "By city"),
    "lines": ("业务按类别", "Service lines by category"), "count": ("数量", "Count"),
    "kpi": ("指标", "KPI"), "met": ("达标数", "Met"), "due": ("应考核数", "Due"), "rate": ("达标率", "Rate"),
    "kpis": ("本季度考核指标", "KPIs of the quarter"), "tickets": ("工单数", "Tickets"),
    "other": ("其他指标", "Other measures"), "measure": ("项目", "Measure"), "value": ("数值", "Value"),
    "mttr": ("平均修复时长（分钟，净）", "MTTR (min, net)"), "satisfaction": ("满意率（%）", "Satisfaction (%)"),
    "severe_counted": ("严重故障（计入）", "Severe faults (counted)"),
    "severe_total": ("严重故障（全部）", "Severe faults (all)"),
    "restore_by_tier": ("各等级时限内恢复率", "Restored within the limit, by tier"),
    "monthly": ("月度工单与恢复及时率", "Tickets and restore rate by month"), "month": ("月份", "Month"),
    "tier": ("客户等级", "Tier"), "category": ("业务类别", "Category"), "cause": ("原因分类", "Cause"),
    "city": ("城市", "City"), "status": ("状态", "Status"), "clock": ("时限", "Clock"),
    "work_category": ("工单按业务类别", "Tickets by category"), "work_cause": ("工单按原因", "Tickets by cause"),
    "work_city": ("工单按城市", "Tickets by city"), "work_status": ("工单按状态", "Tickets by status"),
    "breaches": ("超时按时限和原因", "Breaches by clock and cause"),
    "cases_title": ("严重故障及历时最长的故障", "Severe faults and the longest restorations"),
    "ticket": ("工单号", "Ticket"), "reported": ("上报时间", "Reported"), "severity": ("严重程度", "Severity"),
    "restore_min": ("恢复历时（分钟，净）", "Restore (min, net)"), "teams": ("处理班组", "Teams"),
    "severe_note": ("（不计入：已证明非我方原因）", " (not counted: proven not the operator's)"),
}  # fmt: skip
CLOCKS: dict[str, tuple[str, str]] = {
    "acceptance": ("签收", "acceptance"), "contact": ("联系结果", "contact"), "progress": ("客户进展", "progress"),
    "internal_progress": ("内部进展", "internal progress"), "restore": ("恢复", "restore"),
    "feedback": ("原因和结果", "feedback"), "internal_report": ("内部报告", "internal report"),
    "remediation": ("整治", "remediation"), "written_report": ("书面报告", "written report"),
    "escalation_director": ("升级（主任）", "escalation (director)"),
    "escalation_deputy_gm": ("升级（副总）", "escalation (deputy GM)"), "severity": ("严重故障", "severity"),
}  # fmt: skip


def t(key: str, lang: Lang, **fields: Any) -> str:
    return pick(TEXT[key], lang).format(**fields)


# ---- periods and snapshots ------------------------------------------------------------------------------------


def period_key(year: int, quarter: int) -> str:
    return f"{year}-Q{quarter}"


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """[start, end) of a quarter in Shanghai time (the periods operators and the KPIs use)."""
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=SHANGHAI)
    end = datetime(year + 1, 1, 1, tzinfo=SHANGHAI) if quarter == 4 else datetime(year, 3 * quarter + 1, 1,
                                                                                  tzinfo=SHANGHAI)  # fmt: skip
    return start, end


def is_closed(year: int, quarter: int, now: datetime) -> bool:
    """A quarter is closed once its last instant has passed: only then can a report be filed and frozen."""
    return now >= quarter_bounds(year, quarter)[1]


def canonical(data: Any) -> bytes:
    """The data as canonical JSON (sorted keys, no spaces, UTF-8): what the content hash is taken of."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(data: Any) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


Decision = Literal["live", "use", "create", "new_version"]


@dataclass(frozen=True)
class Plan:
    """What a request for a quarter's report does: compute it live (an open quarter: nothing is stored), use a
    stored version, store the first version, or store a new one (an admin's refresh; the old ones are kept)."""

    decision: Decision
    version: int | None  # the version used or to be written; None when live


class SnapshotError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def plan(*, closed: bool, latest: int | None, refresh: bool, admin: bool, version: int | None) -> Plan:
    """The snapshot rule. `latest`: the newest stored version of the period (None: none yet). `version`: one asked
    for by number. A refresh is an admin's only, and only of a closed quarter; asking for a version that does not
    exist is an error (404), as is asking for one together with a refresh (400)."""
    if refresh and not admin:
        raise SnapshotError(403, "only an admin may refresh a filed quarterly report")
    if refresh and version is not None:
        raise SnapshotError(400, "refresh makes a new version: do not ask for one")
    if version is not None:
        if latest is None or not 1 <= version <= latest:
            raise SnapshotError(404, f"no version {version} of this quarter's report")
        return Plan("use", version)
    if not closed:
        if refresh:
            raise SnapshotError(409, "the quarter is not over: its report is computed live and cannot be filed yet")
        return Plan("live", None)
    if latest is None:
        return Plan("create", 1)
    if refresh:
        return Plan("new_version", latest + 1)
    return Plan("use", latest)


# ---- sections ----------------------------------------------------------------------------------------------------


def _pairs(pairs: list[list[Any]], lang: Lang, head: str) -> Table:
    rows = [[value(k, lang), n] for k, n in pairs]
    return Table([t(head, lang), t("count", lang)], rows, ["text", "count"])


def local_time(iso: str | None) -> str:
    return "" if not iso else datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def rate_table(figures: dict[str, Any], lang: Lang) -> Table:
    rows = [[kpi_name(name, lang), (figures.get(name) or {}).get("met", 0), (figures.get(name) or {}).get("due", 0),
             (figures.get(name) or {}).get("rate")] for name in kpis.RATES]  # fmt: skip
    return Table([t("kpi", lang), t("met", lang), t("due", lang), t("rate", lang)], rows,
                 ["text", "count", "count", "rate"])  # fmt: skip


def other_table(figures: dict[str, Any], lang: Lang) -> Table:
    m, s, v = figures.get("mttr") or {}, figures.get("satisfaction") or {}, figures.get("severe_faults") or {}
    mean = m.get("mean_seconds")
    rows: list[list[Any]] = [
        [t("tickets", lang), figures.get("tickets", 0)],
        [t("mttr", lang), None if mean is None else round(mean / 60, 1)],
        [t("satisfaction", lang), s.get("percent")],
        [t("severe_counted", lang), v.get("counted", 0)],
        [t("severe_total", lang), v.get("total", 0)],
    ]
    return Table([t("measure", lang), t("value", lang)], rows, ["text", "number"])


def sections(data: dict[str, Any], lang: Lang) -> list[Section]:
    """The report's eight sections from a snapshot's data, in DOMAIN.md's order."""
    c, w, figures = data["customers"], data["work"], data["kpis"]
    by_tier = [[tier, (f.get("restore_within_limit") or {}).get("rate")] for tier, f in data["kpis_by_tier"]]
    monthly = [[month, f.get("tickets", 0), (f.get("restore_within_limit") or {}).get("rate")]
               for month, f in data["monthly"]]  # fmt: skip
    breaches = [[pick(CLOCKS.get(b["clock"], (b["clock"], b["clock"])), lang), value(b["cause"], lang), b["count"]]
                for b in data["breaches"]]  # fmt: skip
    cases = [[x["ticket_id"], local_time(x.get("reported_at")), value(x.get("city"), lang), value(x.get("tier"), lang),
              value(x.get("category"), lang),
              value(x.get("severity"), lang) + ("" if x.get("severe_counted") or x.get("severity") != "severe"
                                                else t("severe_note", lang)),
              value(x.get("cause_category") or "unresolved", lang),
              None if x.get("restore_net_seconds") is None else round(x["restore_net_seconds"] / 60, 1),
              "、".join(x.get("teams") or [])] for x in data["cases"]]  # fmt: skip
    blocks: dict[str, list[Block]] = {
        "customers": [
            Block(t("by_tier", lang), _pairs(c["by_tier"], lang, "tier"), ChartSpec(t("by_tier", lang), 1, "pie")),
            Block(t("by_city", lang), _pairs(c["by_city"], lang, "city"), ChartSpec(t("by_city", lang), 1)),
            Block(t("lines", lang), _pairs(c["lines_by_category"], lang, "category")),
        ],
        "services": [
            Block(t("kpis", lang), rate_table(figures, lang), ChartSpec(t("kpis", lang), 3, percent=True)),
            Block(t("other", lang), other_table(figures, lang)),
            Block(t("restore_by_tier", lang),
                  Table([t("tier", lang), t("rate", lang)], [[value(k, lang), r] for k, r in by_tier],
                        ["text", "rate"]),
                  ChartSpec(t("restore_by_tier", lang), 1, percent=True)),
            Block(t("monthly", lang),
                  Table([t("month", lang), t("tickets", lang), t("rate", lang)], monthly, ["text", "count", "rate"]),
                  ChartSpec(t("monthly", lang), 1, "line")),
        ],
        "work": [
            Block(t("work_category", lang), _pairs(w["by_category"], lang, "category"),
                  ChartSpec(t("work_category", lang), 1)),
            Block(t("work_cause", lang), _pairs(w["by_cause"], lang, "cause"), ChartSpec(t("work_cause", lang), 1)),
            Block(t("work_city", lang), _pairs(w["by_city"], lang, "city")),
            Block(t("work_status", lang), _pairs(w["by_status"], lang, "status")),
            Block(t("breaches", lang), Table([t("clock", lang), t("cause", lang), t("count", lang)], breaches,
                                             ["text", "text", "count"])),
        ],
        "cases": [
            Block(t("cases_title", lang), Table(
                [t(k, lang) for k in ("ticket", "reported", "city", "tier", "category", "severity", "cause",
                                      "restore_min", "teams")],
                cases, ["text"] * 7 + ["number", "text"])),
        ],
    }  # fmt: skip
    notes = {"customers": t("as_of", lang, at=local_time(data["generated_at"]))}
    out = []
    for i, key in enumerate(ORDER):
        title = pick(TITLES[key], lang)
        if key in NARRATIVE:
            out.append(Section(NUMERALS[i], title, blank=pick(BLANK, lang)))
        else:
            out.append(Section(NUMERALS[i], title, blocks[key], note=notes.get(key)))
    return out


def typical_cases(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every severe fault (longest first), then the longest other restorations, CASES at most."""

    def longest(x: dict[str, Any]) -> tuple[float, str]:
        return (-(x.get("restore_net_seconds") or 0.0), x["ticket_id"])

    severe = sorted([x for x in candidates if x.get("severity") == "severe"], key=longest)
    others = sorted([x for x in candidates if x.get("severity") != "severe" and x.get("restore_net_seconds")],
                    key=longest)[:LONGEST]  # fmt: skip
    return (severe + others)[:CASES]
