"""The notification rules as data: each rule of issue 13 sends the right audience on the right channels, recipients
come from the snapshot, the CRM view and the staff directory, nobody is silently dropped, and dedup keys are one per
event × audience × recipient × channel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from huying.events import (
    CauseCategory,
    Contact,
    DutyNotificationRequested,
    EscalationRaised,
    ProgressUpdateDue,
    SlaBreached,
    SlaClockStarted,
    SlaDeadlineMoved,
    SlaWarning,
    TicketOpened,
    TicketResolved,
    Tier,
)
from notify.domain.recipients import (
    Audience,
    CustomerView,
    InMemoryStaffDirectory,
    NotifyContext,
    Person,
    Team,
    TicketSnapshot,
)
from notify.domain.rules import EVENT_TYPES, NotifyChannel, Rule, RuleBook, Wording, dedup_key, plan
from notify.policy import load_catalog

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 1, 15, tzinfo=UTC)  # 09:15 in Guangzhou
TICKET = "T-20260302-000123"
CATALOG = load_catalog()
RULES = CATALOG.rules

REPORTER = Contact(name="王伟", phone="13800138000", email="wangwei@example.com")
MANAGER = Contact(name="李娜", phone="13900139000", email="lina@example.com")


def directory() -> InMemoryStaffDirectory:
    people = {
        "op-gz-017": Person("staff:op-gz-017", "张强", "13700137000", "zq@example.com"),
        "lead-gz-01": Person("staff:lead-gz-01", "赵磊", "13600136000", "zl@example.com"),
        "sup-gz-01": Person("staff:sup-gz-01", "孙敏", "13500135000", "sm@example.com"),
        "dir-gz-01": Person("staff:dir-gz-01", "陈主任", "13400134000", "chen@example.com"),
        "vp-gz-01": Person("staff:vp-gz-01", "刘总", "13300133000", "liu@example.com"),
        "ldr-gz-01": Person("staff:ldr-gz-01", "周部长", "13200132000", "zhou@example.com", locale="en"),
        "cs-gz-01": Person("staff:cs-gz-01", "客服一组", None, "cs@example.com"),
    }
    team = Team(
        "gz-access-ops",
        "广州接入维护班",
        city="广州",
        phone="02000000001",
        email="gz-access@example.com",
        webhook="https://hooks.example.com/gz-access",
        lead="lead-gz-01",
        on_duty="op-gz-017",
    )
    roles = {
        (Audience.DUTY_SUPERVISOR, "广州"): ("sup-gz-01",),
        (Audience.BRANCH_DIRECTOR, "广州"): ("dir-gz-01",),
        (Audience.DEPUTY_GM, "广州"): ("vp-gz-01",),
        (Audience.LEADERSHIP, "广州"): ("ldr-gz-01",),
        (Audience.CUSTOMER_SERVICE, None): ("cs-gz-01",),  # the province's customer service for every city
    }
    return InMemoryStaffDirectory(teams={team.team_id: team}, people=people, roles=roles)


def context(*, direct_sms: bool = False, tier: Tier = Tier.GOLD, **ticket: Any) -> NotifyContext:
    snapshot = TicketSnapshot(
        ticket_id=TICKET,
        tier=tier,
        city="广州",
        customer_id="C-440100-0001",
        contact=REPORTER,
        teams=("gz-access-ops",),
        full_outage=True,
        description="专线中断，无法访问互联网",
        opened_at=T0,
        restore_deadline=T0 + timedelta(hours=2),
        last_progress="已定位光缆中断点，抢修中",
    )
    snapshot = TicketSnapshot(**{**snapshot.__dict__, **ticket})
    customer = CustomerView(
        customer_id="C-440100-0001",
        name="广州某某银行",
        account_manager=MANAGER,
        contacts=(REPORTER,),
        direct_sms=direct_sms,
    )
    return NotifyContext(staff=directory(), ticket=snapshot, customer=customer)


def sla(cls: type, clock: str, **extra: Any) -> Any:
    return cls(ticket_id=TICKET, clock=clock, policy_version="2026.1", occurred_at=T0 + timedelta(minutes=20), **extra)


def escalation(level: int) -> EscalationRaised:
    """As sla-watch raises them: levels 1 and 2 on their own clocks, the leadership notice on the restore clock."""
    audience = {0: "leadership", 1: "director", 2: "deputy_gm"}[level]
    clock = {0: "restore", 1: "escalation_director", 2: "escalation_deputy_gm"}[level]
    return sla(EscalationRaised, clock, level=level, audience=audience)


def sample_event(rule: Rule) -> Any:
    """An event that satisfies `rule`'s conditions."""
    w = rule.where
    clock = w.clock[0] if w.clock else "restore"
    deadline = T0 + timedelta(hours=2)
    if rule.event == "SlaClockStarted":
        return sla(SlaClockStarted, clock, seq=(w.seq or [1])[0], started_at=T0, deadline=deadline)
    if rule.event == "SlaWarning":
        return sla(SlaWarning, clock, deadline=deadline, used_ratio=0.8)
    if rule.event == "SlaBreached":
        return sla(SlaBreached, clock, deadline=deadline)
    if rule.event == "SlaDeadlineMoved":
        later = w.later is not False
        new = deadline + timedelta(minutes=30 if later else -30)
        return sla(SlaDeadlineMoved, clock, old_deadline=deadline, new_deadline=new, reason="exclusion")
    if rule.event == "EscalationRaised":
        level = (w.level or [1])[0]
        return escalation(level)
    if rule.event == "ProgressUpdateDue":
        return sla(ProgressUpdateDue, "progress", due_at=T0 + timedelta(minutes=30), sequence=1)
    if rule.event == "DutyNotificationRequested":
        staff = "op-gz-017" if w.on_roster is not False else None
        return DutyNotificationRequested(
            ticket_id=TICKET, team="gz-access-ops", staff_id=staff, name="张强", phone="13700137000", channels=["sms"]
        )
    if rule.event == "TicketResolved":
        return TicketResolved(
            ticket_id=TICKET,
            cause="光缆被施工挖断",
            resolution="熔接光缆",
            restored_at=T0 + timedelta(minutes=95),
            cause_category=CauseCategory.THIRD_PARTY,
            occurred_at=T0 + timedelta(minutes=96),
        )
    raise AssertionError(f"no sample for {rule.event}")


def sample_context(rule: Rule) -> NotifyContext:
    return context(direct_sms=bool(rule.where.direct_sms), tier=(rule.where.tier or [Tier.GOLD])[0])


def by_rule(intents: list, rule_id: str) -> list:
    return [i for i in intents if i.rule_id == rule_id]


# ── every rule in the file fires for its sample and names real people on its own channels ──────────────────────


@pytest.mark.parametrize("rule", RULES.rules, ids=lambda r: r.id)
def test_every_rule_reaches_a_resolved_recipient_on_each_of_its_channels(rule):
    intents = by_rule(plan(sample_event(rule), sample_context(rule), rules=RULES), rule.id)
    assert intents, f"{rule.id} produced nothing for its sample"
    assert {i.audience for i in intents} == {rule.audience}
    assert {i.channel for i in intents} == set(rule.channels)
    assert all(i.gap is None and not i.recipient.ref.startswith("unresolved:") for i in intents)


@pytest.mark.parametrize("rule", RULES.rules, ids=lambda r: r.id)
def test_every_rule_has_a_source_and_templates_in_every_locale(rule):
    assert len(rule.source) > 10
    assert not CATALOG.templates.missing(set(rule.template_ids()), RULES.defaults.locales)


# ── the rules the issue lists, one by one ───────────────────────────────────────────────────────────────────────


def audiences(intents: list) -> dict[Audience, set[NotifyChannel]]:
    out: dict[Audience, set[NotifyChannel]] = {}
    for i in intents:
        out.setdefault(i.audience, set()).add(i.channel)
    return out


def restore_started(seq: int = 1) -> SlaClockStarted:
    return sla(SlaClockStarted, "restore", seq=seq, started_at=T0, deadline=T0 + timedelta(hours=2))


def test_receipt_with_the_time_limit_goes_to_the_account_manager_and_directly_only_where_the_contract_allows():
    without = audiences(plan(restore_started(), context(direct_sms=False), rules=RULES))
    assert without == {Audience.ACCOUNT_MANAGER: {NotifyChannel.SMS, NotifyChannel.EMAIL}}
    direct = audiences(plan(restore_started(), context(direct_sms=True), rules=RULES))
    assert direct[Audience.CUSTOMER_CONTACT] == {NotifyChannel.SMS}
    assert Audience.ACCOUNT_MANAGER in direct  # "the account manager is always told"


def test_no_second_receipt_when_the_restore_clock_restarts_or_another_clock_starts():
    assert plan(restore_started(seq=2), context(direct_sms=True), rules=RULES) == []
    acceptance = sla(SlaClockStarted, "acceptance", started_at=T0, deadline=T0 + timedelta(minutes=10))
    assert plan(acceptance, context(direct_sms=True), rules=RULES) == []


def test_dispatch_texts_the_person_on_duty_named_by_the_event():
    event = DutyNotificationRequested(ticket_id=TICKET, team="gz-access-ops", staff_id="op-gz-017", phone="13700137001")
    [intent] = plan(event, context(), rules=RULES)
    assert (intent.audience, intent.channel, intent.template) == (
        Audience.DUTY_STAFF,
        NotifyChannel.SMS,
        "duty_dispatch",
    )
    assert intent.recipient.ref == "staff:op-gz-017"
    assert intent.recipient.phone == "13700137001"  # the roster's number on the event wins
    assert intent.urgent


def test_nobody_on_the_roster_tells_the_duty_supervisor():
    event = DutyNotificationRequested(ticket_id=TICKET, team="gz-access-ops", staff_id=None)
    [intent] = plan(event, context(), rules=RULES)
    assert (intent.audience, intent.recipient.ref) == (Audience.DUTY_SUPERVISOR, "staff:sup-gz-01")


@pytest.mark.parametrize(
    ("clock", "template"), [("contact", "contact_reminder"), ("internal_progress", "progress_reminder")]
)
def test_contact_and_progress_reminders_go_to_the_handling_team(clock, template):
    intents = plan(sla(SlaWarning, clock, deadline=T0, used_ratio=0.8), context(), rules=RULES)
    team = [i for i in intents if i.audience is Audience.HANDLING_TEAM]
    assert {i.channel for i in team} == {NotifyChannel.SMS, NotifyChannel.WEBHOOK}
    assert {i.template for i in team} == {template}
    assert {i.recipient.ref for i in team} == {"team:gz-access-ops"}


@pytest.mark.parametrize("tier", [Tier.GOLD, Tier.SILVER])
def test_customer_cadence_for_gold_and_silver_through_the_account_manager(tier):
    event = sla(ProgressUpdateDue, "progress", due_at=T0, sequence=2)
    got = audiences(plan(event, context(tier=tier, direct_sms=True), rules=RULES))
    assert got == {
        Audience.ACCOUNT_MANAGER: {NotifyChannel.SMS, NotifyChannel.EMAIL},
        Audience.CUSTOMER_CONTACT: {NotifyChannel.SMS},
    }


@pytest.mark.parametrize("tier", [Tier.BRONZE, Tier.STANDARD])
def test_bronze_and_standard_get_no_proactive_cadence(tier):
    event = sla(ProgressUpdateDue, "progress", due_at=T0, sequence=1)
    assert plan(event, context(tier=tier, direct_sms=True), rules=RULES) == []


def resolved(category: CauseCategory | None, *, restored_after: timedelta = timedelta(minutes=95)) -> TicketResolved:
    return TicketResolved(ticket_id=TICKET, cause="板卡故障", restored_at=T0 + restored_after, cause_category=category)


@pytest.mark.parametrize(
    ("category", "wording"),
    [
        (CauseCategory.CUSTOMER_SIDE, Wording.CUSTOMER_SIDE),
        (CauseCategory.OPERATOR_EQUIPMENT, Wording.TRUE_CAUSE),
        (CauseCategory.OPERATOR_WORK, Wording.TACTFUL),
        (CauseCategory.INTERCONNECTION, Wording.TRUE_CAUSE),
        (CauseCategory.THIRD_PARTY, Wording.TRUE_CAUSE),
        (CauseCategory.NOT_A_FAULT, Wording.NO_FAULT),
        (None, Wording.TRUE_CAUSE),  # an old event without a category counts as the operator's
    ],
)
def test_cause_and_result_are_worded_by_cause_category(category, wording):
    intents = plan(resolved(category), context(direct_sms=True), rules=RULES)
    customer = [i for i in intents if i.audience in (Audience.ACCOUNT_MANAGER, Audience.CUSTOMER_CONTACT)]
    assert {i.template for i in customer} == {f"restored.{wording}"}
    assert {i.audience for i in intents} == {
        Audience.ACCOUNT_MANAGER,
        Audience.CUSTOMER_CONTACT,
        Audience.CUSTOMER_SERVICE,
    }


def test_the_operators_equipment_past_the_promised_time_adds_an_apology():
    late = resolved(CauseCategory.OPERATOR_EQUIPMENT, restored_after=timedelta(hours=3))
    templates = {i.template for i in plan(late, context(), rules=RULES) if i.audience is Audience.ACCOUNT_MANAGER}
    assert templates == {"restored.true_cause_late"}


def test_cause_and_result_are_sent_at_once_after_restoration():
    event = resolved(CauseCategory.OPERATOR_EQUIPMENT)
    assert {i.not_before for i in plan(event, context(), rules=RULES)} == {event.occurred_at}


@pytest.mark.parametrize(
    ("level", "audience", "who"),
    [
        (1, Audience.BRANCH_DIRECTOR, "staff:dir-gz-01"),
        (2, Audience.DEPUTY_GM, "staff:vp-gz-01"),
        (0, Audience.LEADERSHIP, "staff:ldr-gz-01"),
    ],
)
def test_escalation_levels_reach_director_deputy_gm_and_leadership(level, audience, who):
    intents = plan(escalation(level), context(), rules=RULES)
    assert audiences(intents) == {audience: {NotifyChannel.SMS, NotifyChannel.EMAIL}}
    assert {i.recipient.ref for i in intents} == {who}
    assert all(i.urgent for i in intents)


def test_a_leader_who_reads_english_gets_english():
    assert {i.locale for i in plan(escalation(0), context(), rules=RULES)} == {"en"}


@pytest.mark.parametrize("clock", ["acceptance", "contact", "restore", "feedback"])
@pytest.mark.parametrize("kind", [SlaWarning, SlaBreached])
def test_warnings_and_breaches_reach_the_team_lead_and_the_duty_supervisor(clock, kind):
    extra = {"used_ratio": 0.8} if kind is SlaWarning else {}
    got = audiences(plan(sla(kind, clock, deadline=T0, **extra), context(), rules=RULES))
    assert got[Audience.TEAM_LEAD] == {NotifyChannel.SMS}
    assert got[Audience.DUTY_SUPERVISOR] == {NotifyChannel.SMS}


def test_a_per_team_clock_reaches_that_teams_lead():
    event = sla(SlaBreached, "acceptance", deadline=T0, subject="gz-access-ops")
    ctx = context(teams=())  # the snapshot does not know the teams yet: the event's subject says which
    leads = [i for i in plan(event, ctx, rules=RULES) if i.audience is Audience.TEAM_LEAD]
    assert [i.recipient.ref for i in leads] == ["staff:lead-gz-01"]


@pytest.mark.parametrize(
    ("kind", "clock", "expected"),
    [
        (SlaWarning, "written_report", {Audience.HANDLING_TEAM}),
        (SlaWarning, "internal_report", {Audience.HANDLING_TEAM}),
        (SlaBreached, "internal_report", {Audience.HANDLING_TEAM, Audience.TEAM_LEAD}),
        (SlaBreached, "remediation", {Audience.TEAM_LEAD, Audience.DUTY_SUPERVISOR}),
        (SlaBreached, "follow_up", {Audience.CUSTOMER_SERVICE, Audience.ACCOUNT_MANAGER}),
    ],
)
def test_fault_report_remediation_and_follow_up_reminders(kind, clock, expected):
    extra = {"used_ratio": 0.8} if kind is SlaWarning else {}
    assert set(audiences(plan(sla(kind, clock, deadline=T0, **extra), context(), rules=RULES))) == expected


def moved(minutes: int, reason: str = "exclusion") -> SlaDeadlineMoved:
    old = T0 + timedelta(hours=2)
    return sla(
        SlaDeadlineMoved, "restore", old_deadline=old, new_deadline=old + timedelta(minutes=minutes), reason=reason
    )


def test_an_extension_is_apologised_for_in_advance_and_an_earlier_deadline_is_not():
    later = plan(moved(+30), context(direct_sms=True), rules=RULES)
    assert {i.template for i in later} == {"extension_apology"}
    assert set(audiences(later)) == {Audience.ACCOUNT_MANAGER, Audience.CUSTOMER_CONTACT}
    assert plan(moved(-30), context(direct_sms=True), rules=RULES) == []
    paused = sla(SlaDeadlineMoved, "restore", old_deadline=T0, new_deadline=None, reason="paused")
    assert plan(paused, context(direct_sms=True), rules=RULES) == []
    resumed = sla(SlaDeadlineMoved, "restore", old_deadline=None, new_deadline=T0, reason="resumed")
    assert plan(resumed, context(direct_sms=True), rules=RULES) == []  # suspended with the customer's consent


def test_a_restore_warning_apologises_before_the_limit_passes():
    intents = plan(sla(SlaWarning, "restore", deadline=T0, used_ratio=0.8), context(direct_sms=True), rules=RULES)
    apology = {i.audience for i in intents if i.template == "delay_apology"}
    assert apology == {Audience.ACCOUNT_MANAGER, Audience.CUSTOMER_CONTACT}


def test_events_no_rule_names_plan_nothing():
    opened = TicketOpened(
        ticket_id=TICKET, source_system="10086-cc", external_id="CC1", channel="hotline", tier="gold",
        scope="intra_city", category="access", reported_at=T0,
    )  # fmt: skip
    assert plan(opened, context(), rules=RULES) == []


# ── never silently dropped ──────────────────────────────────────────────────────────────────────────────────────


def test_a_missing_account_manager_becomes_an_outbox_entry_naming_the_gap():
    ctx = context()
    ctx = NotifyContext(staff=ctx.staff, ticket=ctx.ticket, customer=CustomerView("C-440100-0001", "广州某某银行"))
    [intent] = plan(restore_started(), ctx, rules=RULES)
    assert intent.channel is NotifyChannel.OUTBOX
    assert intent.recipient.ref == "unresolved:account_manager"
    assert "account_manager" in (intent.gap or "")


def test_a_recipient_without_an_email_gets_an_outbox_entry_for_that_channel():
    ctx = context()
    no_mail = CustomerView("C-440100-0001", "广州某某银行", account_manager=Contact(name="李娜", phone="13900139000"))
    ctx = NotifyContext(staff=ctx.staff, ticket=ctx.ticket, customer=no_mail)
    by_channel = {i.channel: i for i in plan(restore_started(), ctx, rules=RULES)}
    assert set(by_channel) == {NotifyChannel.SMS, NotifyChannel.OUTBOX}
    assert by_channel[NotifyChannel.OUTBOX].gap == "no email for email"


def test_recipient_refs_carry_no_personal_data():
    intents = plan(resolved(CauseCategory.CUSTOMER_SIDE), context(direct_sms=True), rules=RULES)
    for i in intents:
        for secret in (REPORTER.phone, REPORTER.name, MANAGER.phone, MANAGER.name):
            assert secret not in i.dedup_key


# ── dedup keys ──────────────────────────────────────────────────────────────────────────────────────────────────


def test_replanning_the_same_event_gives_the_same_keys_and_keys_are_unique():
    event = sla(SlaWarning, "restore", deadline=T0, used_ratio=0.8)
    first, again = (
        plan(event, context(direct_sms=True), rules=RULES),
        plan(event, context(direct_sms=True), rules=RULES),
    )
    assert [i.dedup_key for i in first] == [i.dedup_key for i in again]
    assert len({i.dedup_key for i in first}) == len(first)


refs = st.text(min_size=1, max_size=12)
parts = st.tuples(st.uuids(), st.sampled_from(list(Audience)), refs, st.sampled_from(list(NotifyChannel)))


@given(parts, parts)
def test_dedup_keys_are_equal_exactly_when_their_parts_are(a, b):
    assert (dedup_key(*a) == dedup_key(*b)) is (a == b)


@pytest.mark.parametrize("empty", [0, 1, 2, 3])
def test_a_dedup_key_with_an_empty_part_is_refused(empty):
    part = [uuid.uuid4(), "account_manager", "staff:1", "sms"]
    part[empty] = ""
    with pytest.raises(ValueError, match="non-empty"):
        dedup_key(*part)


# ── the file is validated at load ───────────────────────────────────────────────────────────────────────────────


def book(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"version": "x", "labels": RULES.labels.model_dump(mode="json"), "rules": list(rules)}


def rule(**kw: Any) -> dict[str, Any]:
    return {"id": "r", "source": "DOMAIN.md", "event": "SlaWarning", "audience": "team_lead", "channels": ["sms"],
            "template": "sla_warning", **kw}  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"event": "NoSuchEvent"}, "unknown event type"),
        ({"event": "TicketResolved", "where": {"clock": ["restore"]}}, "does not apply"),
        ({"where": {"level": [1]}}, "does not apply"),
        ({"worded_by_cause": True}, "TicketResolved only"),
        ({"channels": ["sms", "sms"]}, "listed twice"),
        ({"channels": ["pigeon"]}, "channels"),
        ({"audience": "everyone"}, "audience"),
        ({"source": ""}, "source"),
        ({"where": {"colour": "red"}}, "colour"),
    ],
)
def test_an_invalid_rule_is_refused_at_load(bad, message):
    with pytest.raises(ValidationError, match=message):
        RuleBook.model_validate(book(rule(**bad)))


def test_duplicate_rule_ids_are_refused():
    with pytest.raises(ValidationError, match="duplicate"):
        RuleBook.model_validate(book(rule(), rule()))


def test_a_rule_naming_a_missing_template_stops_the_start(tmp_path):
    data = book(rule(template="nowhere"))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=r"nowhere\.zh-CN"):
        load_catalog(tmp_path / "rules.yaml")


def test_every_locale_names_every_clock_tier_and_move_reason():
    labels = RULES.labels.model_dump(mode="json")
    del labels["clock"]["en"]["follow_up"]
    with pytest.raises(ValidationError, match=r"clock\.en\.follow_up"):
        RuleBook.model_validate({**book(rule()), "labels": labels})


def test_the_rules_cover_only_ticket_and_sla_events():
    assert {r.event for r in RULES.rules} <= set(EVENT_TYPES)
    assert "TicketOpened" in EVENT_TYPES and "EscalationRaised" in EVENT_TYPES


# ── purity ──────────────────────────────────────────────────────────────────────────────────────────────────────

MY_DOMAIN = ("rules", "recipients", "templates", "sms_text")
IMPURE = ("faststream", "aiokafka", "pymongo", "httpx", "fastapi", "time", "socket", "os", "pathlib", "yaml", "asyncio")


@pytest.mark.parametrize("module", MY_DOMAIN)
def test_the_planning_domain_does_no_io_and_reads_no_clock(module):
    import ast
    import importlib

    path = importlib.import_module(f"notify.domain.{module}").__file__
    assert path is not None
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in IMPURE, (module, name)
                assert not name.startswith("huying") or name.startswith("huying.events"), (module, name)
        if isinstance(node, ast.Call):
            called = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            assert called not in ("now", "utcnow", "today", "utc_now", "open", "read_text"), (module, called)


def test_the_rules_document_lists_every_rule():
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "notify-rules.md").read_text(encoding="utf-8")
    assert [r.id for r in RULES.rules if f"`{r.id}`" not in doc] == []
