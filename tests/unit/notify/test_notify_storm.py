"""Storm and rate rules: one message per customer per incident, a hold-down before "restored", escalations re-check
the ticket, caps with digests for staff, quiet hours for customer notices only, and the suppression list."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huying.events import (
    IncidentOpened,
    TicketCancelled,
    TicketClosed,
    TicketOpened,
    TicketReopened,
    TicketResolved,
)
from notify.domain.recipients import Audience, Person
from notify.domain.rules import Intent, NotifyChannel, dedup_key
from notify.domain.storm import (
    Decision,
    DigestEntry,
    InMemoryHistory,
    StormPolicy,
    TicketState,
    day_start,
    digest,
    gate,
    in_quiet_hours,
    incident_key,
    load_storm_policy,
    next_digest_at,
    quiet_until,
)
from tests.unit.notify.test_notify_rules import RULES

pytestmark = pytest.mark.unit

POLICY = load_storm_policy()
SH = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=SH)  # outside quiet hours
NIGHT = datetime(2026, 3, 2, 23, 30, tzinfo=SH)
TICKET = "T-20260302-000123"
CUSTOMER = Person("contact:abc", "王伟", "13800138000", "wangwei@example.com")
MANAGER = Person("account_manager:def", "李娜", "13900139000", "lina@example.com")
LEAD = Person("staff:lead-gz-01", "赵磊", "13600136000", "zl@example.com")
DIRECTOR = Person("staff:dir-gz-01", "陈主任", "13400134000", "chen@example.com")


def rule(rule_id: str) -> Any:
    return next(r for r in RULES.rules if r.id == rule_id)


def intent(rule_id: str, recipient: Person, *, at: datetime = NOON, ticket: str = TICKET, **over: Any) -> Intent:
    """An intent as `plan` makes it for the real rule `rule_id`."""
    r = rule(rule_id)
    channel = over.pop("channel", r.channels[0])
    event_id = over.pop("event_id", f"ev-{rule_id}-{ticket}-{at.isoformat()}")
    return Intent(
        dedup_key=dedup_key(event_id, r.audience, recipient.ref, channel),
        rule_id=r.id,
        event_id=event_id,
        ticket_id=ticket,
        audience=r.audience,
        recipient=recipient,
        channel=channel,
        template=r.template,
        locale="zh-CN",
        not_before=at,
        urgent=r.urgent,
        **over,
    )


def decide(i: Intent, *, now: datetime | None = None, ticket: TicketState | None = None, **kw: Any) -> Decision:
    return gate(
        i,
        now=now or i.not_before,
        ticket=ticket,
        history=kw.get("history", InMemoryHistory()),
        suppressed=kw.get("suppressed", frozenset()),
        policy=kw.get("policy", POLICY),
    )


# ── the policy file ─────────────────────────────────────────────────────────────────────────────────────────────


def test_the_policy_names_only_rules_that_exist():
    assert POLICY.unknown_rules(RULES) == []


def test_held_down_rules_have_no_delay_of_their_own_since_the_hold_down_counts_from_not_before():
    assert all(rule(r).delay.minutes == 0 for r in POLICY.hold_down.rules)


def test_urgent_rules_are_not_held_down_and_escalations_are_rechecked():
    assert not any(rule(r).urgent for r in POLICY.hold_down.rules)
    assert {r.id for r in RULES.rules if r.event == "EscalationRaised"} <= POLICY.recheck.rules


def test_the_numbers_are_the_files():
    assert (POLICY.hold_down.minutes, POLICY.incident.window_minutes) == (5, 30)
    assert (str(POLICY.quiet_hours.start), str(POLICY.quiet_hours.end)) == ("22:00:00", "08:00:00")
    assert POLICY.caps.per_day[NotifyChannel.SMS] == 40 and POLICY.caps.digest_every_minutes == 180
    # the platforms' ~50 a day: the cap plus every digest a day can bring stays under it
    assert 40 + 24 * 60 // POLICY.caps.digest_every_minutes < 50


def test_quiet_hours_with_equal_ends_are_refused():
    data = POLICY.model_dump()
    data["quiet_hours"]["end"] = data["quiet_hours"]["start"]
    with pytest.raises(ValueError, match="start and end must differ"):
        StormPolicy.model_validate(data)


# ── not due, suppression ────────────────────────────────────────────────────────────────────────────────────────


def test_an_intent_before_its_time_is_deferred_to_it():
    i = intent("receipt.account-manager", MANAGER, at=NOON)
    assert decide(i, now=NOON - timedelta(minutes=1)) == Decision("defer", NOON, "not yet due", "not_due")


def test_a_bounced_address_is_suppressed_even_for_an_urgent_notice():
    i = intent("escalation.director", DIRECTOR)  # sms
    d = decide(i, suppressed=frozenset({DIRECTOR.phone}))
    assert (d.action, d.rule) == ("suppress", "suppression") and "address" in d.reason
    by_ref = decide(i, suppressed=lambda value: value == DIRECTOR.ref)
    assert by_ref.action == "suppress" and "recipient" in by_ref.reason


def test_the_suppression_list_checks_the_channels_own_address():
    email = intent("receipt.account-manager", MANAGER, channel=NotifyChannel.EMAIL)
    assert decide(email, suppressed=frozenset({MANAGER.phone})).action == "send"
    assert decide(email, suppressed=frozenset({MANAGER.email})).action == "suppress"


def test_the_outbox_only_records_so_no_suppression_quiet_hours_or_cap_applies():
    i = intent("receipt.customer", CUSTOMER, at=NIGHT, channel=NotifyChannel.OUTBOX, gap="no phone for sms")
    assert decide(i, suppressed=frozenset({CUSTOMER.ref})).action == "send"


# ── re-check before an escalation ───────────────────────────────────────────────────────────────────────────────


def state(**kw: Any) -> TicketState:
    return TicketState(ticket_id=TICKET, **kw)


@pytest.mark.parametrize(
    ("ticket", "word"),
    [
        (state(restored_at=NOON - timedelta(minutes=3)), "restored"),
        (state(closed=True), "closed"),
        (state(cancelled=True), "cancelled"),
    ],
)
def test_an_escalation_for_a_settled_ticket_is_suppressed_with_the_reason(ticket, word):
    d = decide(intent("escalation.director", DIRECTOR), ticket=ticket)
    assert (d.action, d.rule) == ("suppress", "recheck") and word in d.reason


def test_an_escalation_for_a_reopened_ticket_goes():
    ticket = state(restored_at=NOON - timedelta(minutes=30), reopened_at=NOON - timedelta(minutes=20))
    assert decide(intent("escalation.deputy-gm", DIRECTOR), ticket=ticket).action == "send"


def test_an_escalation_without_known_state_goes_rather_than_being_lost():
    assert decide(intent("escalation.leadership", DIRECTOR), ticket=None) == Decision(
        "send", reason="no storm rule applies"
    )


def test_a_progress_cadence_after_restoration_is_suppressed_but_a_breach_is_not_rechecked():
    restored = state(restored_at=NOON - timedelta(minutes=1))
    assert decide(intent("cadence.account-manager", MANAGER), ticket=restored).rule == "recheck"
    assert decide(intent("breach.team-lead", LEAD), ticket=restored).action == "send"


# ── hold-down before "restored" ─────────────────────────────────────────────────────────────────────────────────


def test_a_restored_notice_waits_for_the_hold_down_then_goes():
    i = intent("restored.account-manager", MANAGER, at=NOON)
    ticket = state(restored_at=NOON)
    held = decide(i, now=NOON, ticket=ticket)
    assert held == Decision("defer", NOON + timedelta(minutes=5), held.reason, "hold_down")
    assert decide(i, now=held.until, ticket=ticket).action == "send"


def test_a_flapping_line_is_told_once_restored_after_it_stays_up():
    first = intent("restored.customer", CUSTOMER, at=NOON, event_id="resolved-1")
    second = intent("restored.customer", CUSTOMER, at=NOON + timedelta(minutes=4), event_id="resolved-2")
    ticket = state().apply(resolved(NOON)).apply(reopened(NOON + timedelta(minutes=2)))
    ticket = ticket.apply(resolved(NOON + timedelta(minutes=4)))
    dropped = decide(first, now=NOON + timedelta(minutes=5), ticket=ticket)
    assert (dropped.action, dropped.rule) == ("suppress", "hold_down")
    assert decide(second, now=NOON + timedelta(minutes=9), ticket=ticket).action == "send"


def test_the_customer_service_confirmation_is_not_held_it_is_how_a_flap_is_found():
    assert decide(intent("restored.customer-service", LEAD), ticket=state(restored_at=NOON)).action == "send"


@settings(max_examples=200)
@given(
    reopen_after=st.floats(min_value=0.01, max_value=POLICY.hold_down.minutes - 0.01),
    check_after=st.floats(min_value=0, max_value=24 * 60),
)
def test_a_reopen_inside_the_hold_down_always_drops_the_restored_notice(reopen_after, check_after):
    i = intent("restored.account-manager", MANAGER, at=NOON)
    reopen = NOON + timedelta(minutes=reopen_after)
    now = NOON + timedelta(minutes=check_after)
    seen = state(restored_at=NOON, reopened_at=reopen) if now >= reopen else state(restored_at=NOON)
    d = decide(i, now=now, ticket=seen)
    assert d.action != "send"
    if now >= reopen:
        assert (d.action, d.rule) == ("suppress", "hold_down")
    else:  # not seen yet: still inside the hold-down, so it waits
        assert d.action == "defer" and d.until == NOON + timedelta(minutes=POLICY.hold_down.minutes)


# ── one message per customer per incident ───────────────────────────────────────────────────────────────────────


def test_children_of_an_incident_tell_the_customer_once():
    history = InMemoryHistory()
    child_a = state(parent_incident_id="I-7")
    child_b = dataclasses.replace(child_a, ticket_id="T-2")
    a = intent("receipt.account-manager", MANAGER, ticket=TICKET)
    b = intent("receipt.account-manager", MANAGER, ticket="T-2", at=NOON + timedelta(minutes=10))
    assert decide(a, ticket=child_a, history=history).action == "send"
    history.record(a, at=NOON, ticket=child_a, policy=POLICY)
    d = decide(b, ticket=child_b, history=history)
    assert (d.action, d.rule) == ("suppress", "incident") and TICKET in d.reason


def test_the_parents_own_notice_counts_for_its_childrens_customers():
    history = InMemoryHistory()
    parent = TicketState(ticket_id="I-7").apply(incident_opened("I-7"))
    told = intent("restored.account-manager", MANAGER, ticket="I-7")
    history.record(told, at=NOON + timedelta(minutes=5), ticket=parent, policy=POLICY)
    child = intent("restored.account-manager", MANAGER, at=NOON + timedelta(minutes=1))
    child_state = state(restored_at=NOON, parent_incident_id="I-7")
    d = decide(child, now=NOON + timedelta(minutes=6), ticket=child_state, history=history)
    assert (d.action, d.rule) == ("suppress", "incident") and "I-7 told" in d.reason


def test_the_incident_rule_keeps_a_tickets_own_rhythm_other_recipients_and_news_after_the_window():
    history = InMemoryHistory()
    child = state(parent_incident_id="I-7")
    first = intent("cadence.account-manager", MANAGER, at=NOON)
    history.record(first, at=NOON, ticket=child, policy=POLICY)
    own_next = intent("cadence.account-manager", MANAGER, at=NOON + timedelta(minutes=29))
    assert decide(own_next, ticket=child, history=history).action == "send"  # the same ticket's cadence
    other = dataclasses.replace(child, ticket_id="T-2")
    later = intent("cadence.account-manager", MANAGER, ticket="T-2", at=NOON + timedelta(minutes=30))
    assert decide(later, ticket=other, history=history).action == "send"  # the window has passed
    someone_else = intent("cadence.account-manager", dataclasses.replace(MANAGER, ref="account_manager:zzz"))
    assert decide(someone_else, ticket=other, history=history).action == "send"


def test_staff_and_tickets_outside_an_incident_have_no_incident_key():
    assert incident_key(intent("warning.team-lead", LEAD), state(parent_incident_id="I-7"), policy=POLICY) is None
    assert incident_key(intent("receipt.account-manager", MANAGER), state(), policy=POLICY) is None
    key = incident_key(intent("receipt.account-manager", MANAGER), state(parent_incident_id="I-7"), policy=POLICY)
    assert key == f"I-7|receipt.account-manager|{MANAGER.ref}|sms"


# ── quiet hours ─────────────────────────────────────────────────────────────────────────────────────────────────


def test_a_customer_notice_at_night_waits_for_eight_in_the_morning():
    d = decide(intent("receipt.customer", CUSTOMER, at=NIGHT))
    assert d == Decision("defer", datetime(2026, 3, 3, 8, 0, tzinfo=SH), d.reason, "quiet_hours")


def test_quiet_hours_touch_neither_staff_nor_urgent_notices():
    assert decide(intent("receipt.account-manager", MANAGER, at=NIGHT)).action == "send"
    assert decide(intent("breach.team-lead", LEAD, at=NIGHT)).action == "send"
    assert decide(intent("escalation.director", DIRECTOR, at=NIGHT)).action == "send"


def test_a_restored_notice_held_down_into_the_night_then_waits_for_the_morning():
    at = datetime(2026, 3, 2, 21, 58, tzinfo=SH)
    i = intent("restored.customer", CUSTOMER, at=at)
    ticket = state(restored_at=at)
    held = decide(i, ticket=ticket)
    assert held.until == at + timedelta(minutes=5)
    assert decide(i, now=held.until, ticket=ticket).until == datetime(2026, 3, 3, 8, 0, tzinfo=SH)


@pytest.mark.parametrize(
    ("local", "quiet"),
    [("21:59", False), ("22:00", True), ("00:00", True), ("07:59", True), ("08:00", False), ("12:00", False)],
)
def test_quiet_hours_boundaries(local, quiet):
    hour, minute = map(int, local.split(":"))
    assert in_quiet_hours(NOON.replace(hour=hour, minute=minute), POLICY) is quiet


def test_quiet_hours_are_read_in_asia_shanghai_whatever_zone_now_is_given_in():
    utc_night = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 23:30 in Guangzhou
    assert quiet_until(utc_night, POLICY) == datetime(2026, 3, 3, 8, 0, tzinfo=SH)


moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(SH)).map(
    lambda d: d.astimezone(UTC)
)
staff_and_customer_rules = st.sampled_from([r.id for r in RULES.rules])


@given(now=moments, rule_id=staff_and_customer_rules)
def test_quiet_hours_never_defer_an_urgent_intent(now, rule_id):
    i = dataclasses.replace(intent(rule_id, CUSTOMER, at=now), urgent=True)
    assert decide(i, now=now).rule != "quiet_hours"


@given(now=moments)
def test_a_quiet_hours_deferral_ends_at_the_end_of_quiet_hours_and_never_before_now(now):
    d = decide(intent("receipt.customer", CUSTOMER, at=now), now=now)
    if d.rule == "quiet_hours":
        assert d.until is not None and d.until > now
        assert d.until.astimezone(SH).time() == POLICY.quiet_hours.end
        assert d.until - now <= timedelta(hours=10)  # 22:00 → 08:00 at most
        assert not in_quiet_hours(d.until, POLICY)
    else:
        assert not in_quiet_hours(now, POLICY) and d.action == "send"


# ── caps and digests ────────────────────────────────────────────────────────────────────────────────────────────


def test_the_41st_sms_of_the_day_to_a_team_lead_goes_into_the_digest():
    history = InMemoryHistory()
    for n in range(40):
        history.record(intent("warning.team-lead", LEAD, event_id=f"w{n}"), at=NOON, ticket=None, policy=POLICY)
    d = decide(intent("warning.team-lead", LEAD, at=NOON + timedelta(minutes=1)), history=history)
    assert (d.action, d.rule) == ("digest", "cap") and "40 of 40" in d.reason
    assert d.until == datetime(2026, 3, 2, 15, 0, tzinfo=SH)  # the next 3-hour slot from local midnight


def test_over_the_cap_urgent_notices_email_and_customers_still_go():
    history = InMemoryHistory(sends=[(LEAD.ref, "sms", NOON)] * 40 + [(CUSTOMER.ref, "sms", NOON)] * 40)
    assert decide(intent("breach.team-lead", LEAD), history=history).action == "send"
    email = intent("warning.team-lead", LEAD, channel=NotifyChannel.EMAIL)
    assert decide(email, history=history).action == "send"
    assert decide(intent("receipt.customer", CUSTOMER), history=history).action == "send"


def test_the_cap_counts_the_local_day():
    yesterday = datetime(2026, 3, 1, 23, 59, tzinfo=SH)
    history = InMemoryHistory(sends=[(LEAD.ref, "sms", yesterday)] * 40)
    assert (
        decide(intent("warning.team-lead", LEAD, at=datetime(2026, 3, 2, 0, 1, tzinfo=SH)), history=history).action
        == "send"
    )
    assert day_start(datetime(2026, 3, 1, 16, 30, tzinfo=UTC), POLICY) == datetime(2026, 3, 2, 0, 0, tzinfo=SH)


def test_the_last_digest_of_the_day_is_at_midnight():
    assert next_digest_at(datetime(2026, 3, 2, 22, 0, tzinfo=SH), POLICY) == datetime(2026, 3, 3, 0, 0, tzinfo=SH)
    assert next_digest_at(datetime(2026, 3, 2, 15, 0, tzinfo=SH), POLICY) == datetime(2026, 3, 2, 18, 0, tzinfo=SH)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=1, max_value=15), st.booleans(), st.sampled_from([LEAD, MANAGER])),
        min_size=1,
        max_size=160,
    )
)
def test_caps_never_let_more_than_n_non_urgent_messages_through_per_recipient_per_day(steps):
    history, now, through = InMemoryHistory(), NOON, {}
    cap = POLICY.caps.per_day[NotifyChannel.SMS]
    for minutes, urgent, person in steps:
        now += timedelta(minutes=minutes)
        rule_id = "breach.team-lead" if urgent else "warning.team-lead"
        i = intent(rule_id, person, at=now, event_id=f"e{now.isoformat()}")
        d = decide(i, now=now, history=history)
        assert d.action in ("send", "digest")
        if urgent:
            assert d.action == "send"
        if d.action == "send":
            history.record(i, at=now, ticket=None, policy=POLICY)
            if not urgent:
                day = day_start(now, POLICY)
                through[(person.ref, day)] = through.get((person.ref, day), 0) + 1
        else:  # held only once the day's count is reached, and sent at a later digest time
            assert history.sent_count(person.ref, "sms", since=day_start(now, POLICY)) >= cap
            assert d.until is not None and d.until > now
    assert all(n <= cap for n in through.values())


def test_a_digest_counts_and_groups_the_held_messages_by_ticket():
    entries = [
        DigestEntry("T-1", datetime(2026, 3, 2, 12, 5, tzinfo=SH), "工单T-1预警：恢复时限将到"),
        DigestEntry("T-2", datetime(2026, 3, 2, 12, 40, tzinfo=SH), "工单T-2预警：联系时限将到"),
        DigestEntry("T-1", datetime(2026, 3, 2, 14, 10, tzinfo=SH), "工单T-1预警：进展更新将到"),
    ]
    out = digest(entries, locale="zh-CN")
    assert out.text.splitlines() == [
        "3条通知汇总（12:05–14:10）：",
        "工单T-1共2条，最新：工单T-1预警：进展更新将到",
        "工单T-2共1条，最新：工单T-2预警：联系时限将到",
    ]
    english = digest(entries[:1], locale="en").text
    assert english.startswith("1 notices held (12:05–12:05):") and "ticket T-1, 1, latest" in english


def test_a_digest_fits_the_sms_budget_and_keeps_its_head():
    at = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    entries = [
        DigestEntry(f"T-{n}", at + timedelta(minutes=n), f"工单T-{n}预警：恢复时限将到，请尽快处理") for n in range(30)
    ]
    sms = digest(entries, locale="zh-CN").sms(signature="【中国移动】", max_segments=3)
    assert sms.startswith("30条通知汇总（12:00–12:29）") and sms.endswith("【中国移动】")


def test_an_empty_digest_is_refused():
    with pytest.raises(ValueError):
        digest([], locale="zh-CN")


# ── the ticket state fold ───────────────────────────────────────────────────────────────────────────────────────


def resolved(at: datetime) -> TicketResolved:
    return TicketResolved(ticket_id=TICKET, cause="光缆中断", restored_at=at, occurred_at=at)


def reopened(at: datetime) -> TicketReopened:
    return TicketReopened(ticket_id=TICKET, reason="客户反馈仍无法访问", occurred_at=at)


def incident_opened(incident: str) -> IncidentOpened:
    return IncidentOpened(
        ticket_id=incident, category="overlay", city="广州", reported_at=NOON, reason="3 customers", occurred_at=NOON
    )


def test_the_state_follows_the_tickets_events():
    opened = TicketOpened(
        ticket_id=TICKET, source_system="10086-cc", external_id="CC1", channel="hotline", tier="gold",
        scope="intra_city", category="access", reported_at=NOON, parent_incident_id="I-7",
    )  # fmt: skip
    s = state().apply(opened)
    assert s.parent_incident_id == "I-7" and s.incident_id == "I-7" and not s.settled
    s = s.apply(resolved(NOON))
    assert s.restored and s.settled
    s = s.apply(reopened(NOON + timedelta(minutes=2)))
    assert not s.restored and not s.settled and s.reopened_at == NOON + timedelta(minutes=2)
    s = s.apply(resolved(NOON + timedelta(minutes=4))).apply(TicketClosed(ticket_id=TICKET))
    assert s.restored and s.closed
    assert state().apply(TicketCancelled(ticket_id=TICKET, reason="重复报障")).settled
    assert TicketState(ticket_id="I-7").apply(incident_opened("I-7")).incident_id == "I-7"
    assert state().incident_id is None


def test_a_late_redelivered_resolution_does_not_move_the_restore_time_back():
    s = state().apply(resolved(NOON + timedelta(minutes=4))).apply(resolved(NOON))
    assert s.restored_at == NOON + timedelta(minutes=4)


# ── every decision ──────────────────────────────────────────────────────────────────────────────────────────────

ticket_states = st.builds(
    TicketState,
    ticket_id=st.just(TICKET),
    parent_incident_id=st.sampled_from([None, "I-7"]),
    restored_at=st.one_of(st.none(), moments),
    reopened_at=st.one_of(st.none(), moments),
    closed=st.booleans(),
    cancelled=st.booleans(),
)


@settings(max_examples=300)
@given(
    rule_id=staff_and_customer_rules,
    person=st.sampled_from([CUSTOMER, MANAGER, LEAD, DIRECTOR]),
    at=moments,
    lag=st.integers(min_value=-30, max_value=24 * 60),
    ticket=st.one_of(st.none(), ticket_states),
    sent_today=st.integers(min_value=0, max_value=60),
)
def test_every_deferral_or_digest_ends_after_now_and_only_non_urgent_notices_are_delayed(
    rule_id, person, at, lag, ticket, sent_today
):
    i = intent(rule_id, person, at=at)
    now = at + timedelta(minutes=lag)
    history = InMemoryHistory(sends=[(person.ref, str(i.channel), now)] * sent_today)
    d = decide(i, now=now, ticket=ticket, history=history)
    assert d.action in ("send", "defer", "suppress", "digest") and d.reason
    if d.action in ("defer", "digest"):
        assert d.until is not None and d.until > now
    else:
        assert d.until is None
    if i.urgent:
        assert d.rule not in ("quiet_hours", "cap") and d.action != "digest"
    if d.rule == "quiet_hours":
        assert i.audience is Audience.CUSTOMER_CONTACT
