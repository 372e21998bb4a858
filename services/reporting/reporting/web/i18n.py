"""The dashboard's words: zh-CN by default, English on request (a simple catalog; every key in both languages)."""

from __future__ import annotations

from reporting.web import i18n_actions as actions
from reporting.web import i18n_pages as pages

DEFAULT, LANGUAGES = "zh-CN", ("zh-CN", "en")
LANG_COOKIE = "huying_lang"

CATALOG: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "Huying 呼应 · 值班台",
        "login": "登录",
        "logout": "退出",
        "username": "用户名",
        "password": "密码",
        "bad_login": "用户名或密码错误",
        "demo_users_refused": "演示用户仅用于开发环境：请用 HUYING_REPORTING_USERS_FILE 配置本中心的用户",
        "queue": "待办工单",
        "ticket": "工单",
        "tier": "等级",
        "city": "地市",
        "team": "班组",
        "state": "状态",
        "next_deadline": "下一时限",
        "remaining": "剩余",
        "all": "全部",
        "filter": "筛选",
        "no_tickets": "没有待办工单",
        "accept": "签收",
        "clocks": "时限",
        "history": "记录",
        "suspensions": "挂起",
        "exclusions": "剔除时段",
        "escalations": "升级",
        "outcome": "结果",
        "deadline": "截止",
        "started": "开始",
        "event": "事件",
        "time": "时间",
        "back": "返回",
        "refused": "调度拒绝了操作",
        "accepted_ok": "已签收",
        "live": "实时",
        "offline": "连接中断，重连中…",
        "state.new": "新建",
        "state.dispatched": "待签收",
        "state.accepted": "处理中",
        "state.resolved": "已恢复",
        "tier.gold": "金",
        "tier.silver": "银",
        "tier.bronze": "铜",
        "tier.standard": "标准",
        "none": "无",
        "paused": "暂停计时（挂起）",
        "status.open": "未恢复",
        "status.resolved": "已恢复",
        "status.closed": "已关闭",
        "status.cancelled": "已取消",
        "outcome.running": "计时中",
        "outcome.met": "达标",
        "outcome.breached": "超时",
        "outcome.cancelled": "不再计时",
        "clock.acceptance": "签收",
        "clock.contact": "联系客户",
        "clock.progress": "进展通报",
        "clock.internal_progress": "内部进展",
        "clock.restore": "恢复",
        "clock.escalation_director": "升级主任",
        "clock.escalation_deputy_gm": "升级副总",
        "clock.severity": "严重故障",
        "clock.feedback": "原因与结果",
        "clock.follow_up": "回访",
        "clock.written_report": "书面报告",
        "clock.backfill": "补录",
        "clock.internal_report": "内部故障报告",
        "clock.remediation": "整改",
    },
    "en": {
        "title": "Huying · duty desk",
        "login": "Sign in",
        "logout": "Sign out",
        "username": "Username",
        "password": "Password",
        "bad_login": "Wrong username or password",
        "demo_users_refused": "the demo users are for development only: set HUYING_REPORTING_USERS_FILE to your users",
        "queue": "Open tickets",
        "ticket": "Ticket",
        "tier": "Tier",
        "city": "City",
        "team": "Team",
        "state": "State",
        "next_deadline": "Next deadline",
        "remaining": "Remaining",
        "all": "All",
        "filter": "Filter",
        "no_tickets": "No open tickets",
        "accept": "Accept",
        "clocks": "Clocks",
        "history": "History",
        "suspensions": "Suspensions",
        "exclusions": "Excluded time",
        "escalations": "Escalations",
        "outcome": "Outcome",
        "deadline": "Deadline",
        "started": "Started",
        "event": "Event",
        "time": "Time",
        "back": "Back",
        "refused": "dispatch refused the action",
        "accepted_ok": "Accepted",
        "live": "live",
        "offline": "connection lost, reconnecting…",
        "state.new": "new",
        "state.dispatched": "to accept",
        "state.accepted": "in progress",
        "state.resolved": "restored",
        "tier.gold": "gold",
        "tier.silver": "silver",
        "tier.bronze": "bronze",
        "tier.standard": "standard",
        "none": "none",
        "paused": "paused (suspended)",
        "status.open": "open",
        "status.resolved": "restored",
        "status.closed": "closed",
        "status.cancelled": "cancelled",
        "outcome.running": "running",
        "outcome.met": "met",
        "outcome.breached": "breached",
        "outcome.cancelled": "ended without a verdict",
        "clock.acceptance": "acceptance",
        "clock.contact": "contact",
        "clock.progress": "progress update",
        "clock.internal_progress": "internal progress",
        "clock.restore": "restore",
        "clock.escalation_director": "director escalation",
        "clock.escalation_deputy_gm": "deputy GM escalation",
        "clock.severity": "severe fault",
        "clock.feedback": "cause and result",
        "clock.follow_up": "follow-up",
        "clock.written_report": "written report",
        "clock.backfill": "backfill",
        "clock.internal_report": "internal fault report",
        "clock.remediation": "remediation",
    },
}


def _merge(*parts: dict[str, dict[str, str]]) -> None:
    """Add the words of other catalogs (one per part of the dashboard) to CATALOG; a key defined twice is an error."""
    for part in parts:
        for lang, words in part.items():
            clash = CATALOG[lang].keys() & words.keys()
            if clash:
                raise ValueError(f"dashboard words defined twice: {sorted(clash)}")
            CATALOG[lang].update(words)


_merge(actions.CATALOG, pages.CATALOG)


def language(asked: str | None) -> str:
    return asked if asked in LANGUAGES else DEFAULT


def translator(lang: str):
    """`t(key)`: the word in `lang`; an unknown key shows itself (a gap is visible, never an error page)."""
    words = CATALOG[language(lang)]
    return lambda key: words.get(key, key)
