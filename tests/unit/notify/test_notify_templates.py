"""Templates render strictly: every template × locale × sample context renders, an undefined variable fails loudly,
times are Asia/Shanghai, the cause is worded by category, and others' phones are masked where not needed."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from huying.events import CauseCategory, TicketResolved
from notify.domain import sms_text
from notify.domain.recipients import CustomerView, NotifyContext, TicketSnapshot
from notify.domain.rules import Intent, plan
from notify.domain.templates import (
    TemplateError,
    TemplateSet,
    TemplateSyntaxError,
    UndefinedVariable,
    format_time,
    variables_for,
)
from notify.policy import template_sources
from tests.unit.notify.test_notify_rules import (
    CATALOG,
    MANAGER,
    REPORTER,
    RULES,
    T0,
    TICKET,
    context,
    escalation,
    sample_context,
    sample_event,
)

pytestmark = pytest.mark.unit

TEMPLATES = CATALOG.templates
DEFAULTS = RULES.defaults
LOCALES = DEFAULTS.locales


def render(intent: Intent, event: Any, ctx: NotifyContext, **override: Any):
    intent = dataclasses.replace(intent, **override)
    variables = variables_for(intent, event, ctx, book=RULES)
    return TEMPLATES.render(intent.template, intent.locale, variables)


def cases() -> list[Any]:
    out = []
    for rule in RULES.rules:
        for template in rule.template_ids():
            for locale in LOCALES:
                out.append(pytest.param(rule, template, locale, id=f"{rule.id}-{template}-{locale}"))
    return out


def sparse(ctx: NotifyContext) -> NotifyContext:
    """What notify may know of a ticket at worst: its id and tier, the customer and its account manager."""
    assert ctx.ticket is not None and ctx.customer is not None
    return NotifyContext(
        staff=ctx.staff,
        ticket=TicketSnapshot(ticket_id=TICKET, tier=ctx.ticket.tier, teams=ctx.ticket.teams),
        customer=CustomerView(ctx.customer.customer_id, ctx.customer.name, MANAGER, direct_sms=ctx.customer.direct_sms),
    )


@pytest.mark.parametrize(("rule", "template", "locale"), cases())
@pytest.mark.parametrize("richness", ["full", "sparse"])
def test_every_template_renders_in_every_locale_for_its_rules_sample(rule, template, locale, richness):
    event, ctx = sample_event(rule), sample_context(rule)
    if richness == "sparse":
        ctx = sparse(ctx)
    intents = [i for i in plan(event, ctx, rules=RULES) if i.rule_id == rule.id]
    assert intents
    for intent in intents:
        out = render(intent, event, ctx, template=template, locale=locale)
        assert out.text.startswith(("工单" if locale == "zh-CN" else "Ticket ") + TICKET), out.text
        assert "None" not in out.text and "{{" not in out.text and "{%" not in out.text
        sms = out.sms(signature=DEFAULTS.signature, max_segments=DEFAULTS.sms_max_segments)
        assert sms.endswith(DEFAULTS.signature)
        assert sms_text.segment_count(sms) <= DEFAULTS.sms_max_segments


def test_every_template_file_is_used_by_some_rule():
    used = {(t, loc) for t in RULES.template_ids() for loc in LOCALES}
    assert set(template_sources()) == used


# ── strictness ──────────────────────────────────────────────────────────────────────────────────────────────────


def one(source: str) -> TemplateSet:
    return TemplateSet({("t", "zh-CN"): source})


def test_an_undefined_variable_raises_naming_it():
    with pytest.raises(UndefinedVariable, match="'deadline'") as err:
        one("工单{{ ticket_no }}，时限{{ deadline | time }}").render("t", "zh-CN", {"ticket_no": "T-1"})
    assert err.value.name == "deadline" and err.value.template == "t.zh-CN"


def test_an_undefined_attribute_and_an_undefined_condition_raise_too():
    with pytest.raises(UndefinedVariable, match=r"contact\.phone"):
        one("{{ contact.phone }}").render("t", "zh-CN", {"contact": {"name": "王伟"}})
    with pytest.raises(UndefinedVariable, match="relay"):
        one("{% if relay %}x{% endif %}y").render("t", "zh-CN", {})


def test_printing_none_is_an_error_not_the_word_none():
    with pytest.raises(UndefinedVariable, match="is None"):
        one("原因：{{ cause }}").render("t", "zh-CN", {"cause": None})


def test_an_empty_result_is_an_error():
    with pytest.raises(TemplateError, match="empty"):
        one("{% if x %}text{% endif %}").render("t", "zh-CN", {"x": False})


def test_an_unknown_template_or_locale_is_an_error():
    with pytest.raises(TemplateError, match="no template"):
        TEMPLATES.render("receipt", "fr", {})


# Jinja2 now parses the files: `{% for %}` and `{{ a + b }}` are valid Jinja2 (the old subset refused them), so the
# cases are real syntax errors instead.
@pytest.mark.parametrize(
    "source",
    ["{% if a %}never closed", "{% endif %}", "{{ a | }}", "{% frobnicate %}", "{% else %}", "{{ a "],
)
def test_a_template_that_does_not_parse_fails_when_loaded(source):
    with pytest.raises(TemplateSyntaxError, match=r"template t\.zh-CN"):
        one(source)


def test_an_unknown_filter_fails_at_load_not_at_the_first_send():
    with pytest.raises(TemplateSyntaxError, match="unknown filter 'shout'"):
        one("{{ a | shout }}")


def test_jinjas_own_filters_are_not_available_so_default_cannot_hide_a_missing_value():
    with pytest.raises(TemplateSyntaxError, match="unknown filter 'default'"):
        one("{{ cause | default('') }}")


def test_printing_a_none_attribute_is_an_error_naming_the_path():
    with pytest.raises(UndefinedVariable, match=r"'contact\.phone' is None"):
        one("{{ contact.phone }}").render("t", "zh-CN", {"contact": {"phone": None}})


def test_a_filter_given_none_fails_as_printing_it_would():
    with pytest.raises(UndefinedVariable, match="'deadline' is None"):
        one("{{ deadline | time }}").render("t", "zh-CN", {"deadline": None})


def test_none_is_false_in_a_condition_and_not_undefined():
    t = one("{% if cause %}{{ cause }}{% else %}无{% endif %}")
    assert t.render("t", "zh-CN", {"cause": None}).text == "无"


def test_text_is_not_html_escaped():
    assert one("{{ a }}").render("t", "zh-CN", {"a": "A&B <x>"}).text == "A&B <x>"


def test_conditions_branch_like_jinja():
    t = one("{% if a %}A{% elif not b %}notB{% else %}E{% endif %}")
    assert [t.render("t", "zh-CN", v).text for v in ({"a": 1, "b": 1}, {"a": 0, "b": 0}, {"a": 0, "b": 1})] == [
        "A",
        "notB",
        "E",
    ]


# ── what the texts say ──────────────────────────────────────────────────────────────────────────────────────────


def first(event: Any, ctx: NotifyContext, **match: Any) -> Intent:
    return next(i for i in plan(event, ctx, rules=RULES) if all(getattr(i, k) == v for k, v in match.items()))


def test_times_are_shown_in_asia_shanghai():
    assert format_time(T0, locale="zh-CN", tz=TEMPLATES._tz) == "3月2日09:15"
    assert format_time(T0 + timedelta(hours=15), locale="en", tz=TEMPLATES._tz) == "3 Mar 00:15"


def test_a_locale_without_a_pattern_gets_babels_own_format_in_asia_shanghai():
    assert format_time(T0, locale="fr", tz=TEMPLATES._tz).endswith("09:15:00")


def test_the_receipt_tells_the_time_limit_the_hotline_and_for_the_manager_the_customer():
    rule = next(r for r in RULES.rules if r.id == "receipt.customer")
    event, ctx = sample_event(rule), sample_context(rule)
    customer = render(first(event, ctx, rule_id="receipt.customer"), event, ctx)
    assert customer.subject == f"工单{TICKET}已受理，承诺3月2日11:15前恢复业务，咨询请拨10086。"
    manager = render(first(event, ctx, rule_id="receipt.account-manager"), event, ctx)
    assert manager.subject.startswith(f"工单{TICKET}（广州某某银行）已受理")
    english = render(first(event, ctx, rule_id="receipt.customer"), event, ctx, locale="en")
    assert english.subject == f"Ticket {TICKET} received: service restored by 2 Mar 11:15, hotline 10086."


def restored(category: CauseCategory) -> TicketResolved:
    return TicketResolved(
        ticket_id=TICKET,
        cause="客户机房UPS故障" if category is CauseCategory.CUSTOMER_SIDE else "割接时配置错误",
        restored_at=T0 + timedelta(minutes=90),
        cause_category=category,
    )


def test_a_customer_side_cause_is_explained_with_maintenance_tips():
    event, ctx = restored(CauseCategory.CUSTOMER_SIDE), context(direct_sms=True)
    text = render(first(event, ctx, rule_id="restored.customer"), event, ctx).text
    assert "客户机房UPS故障" in text and "温馨提示" in text


def test_operator_work_is_worded_tactfully_with_a_promise_and_the_raw_cause_only_for_the_manager():
    event, ctx = restored(CauseCategory.OPERATOR_WORK), context(direct_sms=True)
    customer = render(first(event, ctx, rule_id="restored.customer"), event, ctx).text
    assert "割接时配置错误" not in customer and "专门向您通报" in customer
    manager = render(first(event, ctx, rule_id="restored.account-manager"), event, ctx).text
    assert "割接时配置错误" in manager and "委婉" in manager


def test_leaders_see_the_reporters_phone_masked_and_the_person_on_duty_sees_it_whole():
    ctx = context()
    leader = render(first(escalation(1), ctx), escalation(1), ctx).text
    assert sms_text.mask_phone(REPORTER.phone) in leader and REPORTER.phone not in leader
    rule = next(r for r in RULES.rules if r.id == "duty.dispatch")
    event = sample_event(rule)
    duty = render(first(event, ctx), event, ctx).text
    assert REPORTER.phone in duty  # they must call the customer within 15 minutes


def test_an_escalation_says_how_long_the_ticket_has_run():
    ctx = context()
    event = escalation(1)  # 20 minutes after the report in these samples
    assert "已处理20分钟" in render(first(event, ctx), event, ctx).text


def test_email_subject_is_the_headline():
    ctx = context()
    out = render(first(escalation(2), ctx), escalation(2), ctx)
    assert out.subject == out.text.splitlines()[0]
    assert out.subject.startswith(f"工单{TICKET}") and "分管运维副总" in out.subject


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("rule_id", "event_of", "phrase"),
    [
        ("receipt.customer", None, {"zh-CN": "前恢复业务", "en": "restored by"}),
        ("extension.customer", None, {"zh-CN": "深表歉意", "en": "We apologise"}),
        ("delay-risk.customer", None, {"zh-CN": "提前向您致歉", "en": "apologise in advance"}),
        ("restored.customer", CauseCategory.OPERATOR_WORK, {"zh-CN": "专门向您通报", "en": "dedicated notice"}),
        ("restored.customer", CauseCategory.CUSTOMER_SIDE, {"zh-CN": "温馨提示", "en": "Tip:"}),
    ],
)
def test_the_customers_sms_keeps_its_promise_within_the_segment_budget(rule_id, event_of, phrase, locale):
    rule = next(r for r in RULES.rules if r.id == rule_id)
    event = restored(event_of) if event_of else sample_event(rule)
    ctx = sample_context(rule)
    out = render(first(event, ctx, rule_id=rule_id), event, ctx, locale=locale)
    sms = out.sms(signature=DEFAULTS.signature, max_segments=DEFAULTS.sms_max_segments)
    assert phrase[locale] in sms and TICKET in sms and DEFAULTS.hotline in sms
