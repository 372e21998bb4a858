"""What the exports call things, in Chinese (the default: what the center files) and in English (`lang=en`)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

KPI_NAMES: dict[str, tuple[str, str]] = {
    "acceptance_within_10_min": ("10分钟内签收", "Accepted within 10 min"),
    "contact_result_within_15_min": ("15分钟内反馈联系结果", "Contact result within 15 min"),
    "internal_progress_every_30_min": ("每30分钟内部进展", "Internal progress every 30 min"),
    "customer_cadence": ("主动通报客户进展（金/银）", "Customer progress cadence (gold/silver)"),
    "restore_within_limit": ("时限内恢复", "Restored within the limit"),
    "cause_and_result_within_30_min": ("30分钟内告知原因和结果", "Cause and result within 30 min"),
    "internal_report_within_2_wd": ("2个工作日内内部故障报告", "Internal fault report within 2 WD"),
    "remediation_within_1_wd": ("1个工作日内整治", "Remediation within 1 WD"),
    "customer_report_on_time": ("客户书面报告及时（表74）", "Customer written report on time (表74)"),
}
GROUP_NAMES: dict[str, tuple[str, str]] = {
    "period": ("期间", "Period"),
    "tier": ("客户等级", "Tier"),
    "city": ("城市", "City"),
    "team": ("班组", "Team"),
    "category": ("业务类别", "Category"),
    "level": ("保障等级", "Assurance level"),
}
VALUES: dict[str, tuple[str, str]] = {
    "gold": ("金牌", "gold"), "silver": ("银牌", "silver"), "bronze": ("铜牌", "bronze"),
    "standard": ("标准", "standard"), "access": ("专线接入类", "access"), "overlay": ("叠加类", "overlay"),
    "operator_equipment": ("运营商设备", "operator equipment"), "operator_work": ("运营商操作", "operator work"),
    "customer_side": ("客户侧", "customer side"), "interconnection": ("互联互通", "interconnection"),
    "third_party": ("第三方", "third party"), "not_a_fault": ("非故障", "not a fault"),
    "unresolved": ("未定", "unresolved"), "severe": ("严重", "severe"), "normal": ("一般", "normal"),
    "open": ("处理中", "open"), "resolved": ("已恢复", "resolved"), "closed": ("已关闭", "closed"),
    "cancelled": ("已取消", "cancelled"), "ticket": ("工单", "ticket"), "incident": ("事件", "incident"),
}  # fmt: skip
WORDS: dict[str, tuple[str, str]] = {
    "all": ("合计", "All"),
    "tickets": ("工单数", "Tickets"),
    "met": ("达标数", "met"),
    "due": ("应考核数", "due"),
    "rate": ("达标率", "rate"),
    "mttr_tickets": ("MTTR计入工单数", "MTTR tickets"),
    "mttr_minutes": ("平均修复时长（分钟，净）", "MTTR (min, net)"),
    "satisfaction_records": ("回访记录数", "Follow-up records"),
    "satisfaction_percent": ("满意率（%）", "Satisfaction (%)"),
    "severe_counted": ("严重故障（计入）", "Severe faults (counted)"),
    "severe_total": ("严重故障（全部）", "Severe faults (all)"),
    "none": ("（无）", "(none)"),
}


def pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang == "zh" else pair[1]


def word(key: str, lang: Lang) -> str:
    return pick(WORDS[key], lang)


def kpi_name(key: str, lang: Lang) -> str:
    return pick(KPI_NAMES[key], lang)


def value(raw: object, lang: Lang) -> str:
    """A stored code (tier, category, cause …) as people read it; other values as they are; None as 「（无）」."""
    if raw is None:
        return word("none", lang)
    text = str(raw)
    return pick(VALUES[text], lang) if text in VALUES else text
