"""Channel rules and the events they produce, pure: enrichment, pre-processing, terminal faults, the green
channel, deterministic ids, and the settings that must agree with the SLA policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from huying.events import Category, Channel, Scope, Tier
from intake.api import TokenBucket
from intake.domain import rules
from intake.domain.emit import report_linked, ticket_opened
from intake.domain.ids import event_id_for, ticket_id_for
from intake.domain.model import Arrival, Customer, Line, Master, Rules
from intake.settings import IntakeSettings

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
GOLD = Customer("C-1", Tier.GOLD, "广州")
LINE = Line("L-1", "C-1", Category.OVERLAY, Scope.INTER_CITY, ("深圳", "广州"))
ROOT = Path(__file__).resolve().parents[3]


def arrival(**kw) -> Arrival:
    return Arrival(**{"source_system": "cc", "external_id": "1", "channel": Channel.HOTLINE, "reported_at": T0, **kw})


def test_enrichment_takes_tier_from_the_customer_and_scope_category_city_from_the_line() -> None:
    snap = rules.enrich(arrival(customer_id="C-1", service_line_id="L-1"), Master(GOLD, LINE), Rules())
    assert (snap.tier, snap.scope, snap.category, snap.city, snap.verified) == (
        Tier.GOLD,
        Scope.INTER_CITY,
        Category.OVERLAY,
        "深圳",
        True,
    )
    assert not snap.full_outage and not snap.leadership_notice


def test_unknown_master_data_opens_at_standard_tier_unverified_and_is_never_dropped() -> None:
    snap = rules.enrich(arrival(customer_id="C-1", service_line_id="L-9"), Master(GOLD, None), Rules())
    assert (snap.tier, snap.verified) == (Tier.GOLD, False)  # the customer is known, the line is not
    snap = rules.enrich(arrival(customer_id="C-9", category_hint=Category.OVERLAY), Master(), Rules())
    assert (snap.tier, snap.category, snap.verified, snap.city) == (Tier.STANDARD, Category.OVERLAY, False, None)


def test_terminal_only_faults_are_standard_and_gold_silver_full_outages_go_to_leadership() -> None:
    terminal = arrival(customer_id="C-1", attributes={"terminal_only": True, "full_outage": "true"})
    snap = rules.enrich(terminal, Master(GOLD), Rules())
    assert (snap.tier, snap.full_outage, snap.leadership_notice) == (Tier.STANDARD, True, False)
    alarm = arrival(channel=Channel.MONITORING, alarm_severity="critical", service_line_id="L-1")
    assert rules.enrich(alarm, Master(GOLD, LINE), Rules()).leadership_notice


def test_hotline_consultations_answered_from_the_faq_open_nothing_except_for_gold() -> None:
    faq = arrival(attributes={"faq_answered": True})
    bronze = rules.enrich(faq, Master(Customer("C-2", Tier.BRONZE, "广州")), Rules())
    gold = rules.enrich(faq, Master(GOLD), Rules())
    assert rules.is_consultation(faq, bronze) and not rules.is_consultation(faq, gold)
    web = arrival(channel=Channel.WEB, attributes={"faq_answered": True})
    assert not rules.is_consultation(web, bronze)


def test_green_channel_tickets_carry_the_call_time_and_a_backfill_deadline() -> None:
    green = arrival(channel=Channel.GREEN_CHANNEL, customer_id="C-1")
    snap = rules.enrich(green, Master(GOLD), Rules())
    event = ticket_opened(green, snap, ticket_id="T-1", parent=None, rules=Rules(), now=T0 + timedelta(minutes=3))
    assert (event.reported_at, event.backfill_due, event.occurred_at) == (
        T0,
        T0 + timedelta(hours=24),
        T0 + timedelta(minutes=3),
    )
    assert rules.backfill_target(arrival(attributes={"backfill_ticket_id": "T-1"})) == "T-1"
    assert rules.backfill_target(arrival(channel=Channel.GREEN_CHANNEL, attributes={"backfill_ticket_id": "T"})) is None


def test_an_alarm_opened_ticket_starts_its_restore_clock_at_the_alarm() -> None:
    alarm = arrival(channel=Channel.MONITORING, alarm_severity="major", service_line_id="L-1", external_id="A-1")
    snap = rules.enrich(alarm, Master(GOLD, LINE), Rules())
    event = ticket_opened(alarm, snap, ticket_id="T-1", parent="I-1", rules=Rules(), now=T0)
    assert (event.alarm_at, event.reported_at, event.severity, event.parent_incident_id) == (T0, T0, "severe", "I-1")
    assert not rules.opens_on_its_own(arrival(alarm_severity="warning"), Rules())


def test_ids_are_deterministic_per_report() -> None:
    assert ticket_id_for("cc:1") == ticket_id_for("cc:1") != ticket_id_for("cc:2")
    linked = report_linked(arrival(), ticket_id="T-9", link="same_line", now=T0)
    assert linked.event_id == event_id_for("cc:1", "ReportLinked", "T-9")
    assert linked.partition_key() == b"T-9" and linked.correlation_id == "cc:1"


def test_the_backfill_default_is_the_sla_policys() -> None:
    policy = yaml.safe_load((ROOT / "services/sla-watch/sla_watch/policy/sla-policy.yaml").read_text(encoding="utf-8"))
    assert timedelta(**policy["backfill"]["within"]) == IntakeSettings().rules().backfill_within == timedelta(hours=24)


def test_a_token_bucket_allows_its_burst_then_asks_to_wait() -> None:
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.take(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert 0 < bucket.take(1) <= 0.5
    assert bucket.take(10) > 0  # more than the burst: wait for the whole burst, never forever


def test_the_docs_show_exactly_the_example_payloads_the_tests_send() -> None:
    import json
    import re

    text = (ROOT / "docs/intake.md").read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S) if '"T-…"' not in b]
    examples = [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "services/intake/examples").glob("*.json"))
    ]
    assert len(examples) == 3 and all(example in blocks for example in examples)


def test_a_report_from_further_ahead_than_the_clock_skew_is_refused_and_an_old_one_is_taken() -> None:
    skew = Rules(future_skew=timedelta(minutes=5))
    assert rules.from_the_future(arrival(reported_at=T0 + timedelta(minutes=5)), T0, skew) is None
    refused = rules.from_the_future(arrival(reported_at=T0 + timedelta(minutes=5, seconds=1)), T0, skew)
    assert refused and "301 s ahead" in refused and "allowed: 300 s" in refused
    assert rules.from_the_future(arrival(reported_at=T0 - timedelta(days=365)), T0, skew) is None
    assert IntakeSettings(future_skew_seconds=60).rules().future_skew == timedelta(minutes=1)


def test_a_report_far_behind_its_receipt_is_flagged_late_and_a_recent_one_is_not() -> None:
    day = Rules(late_after=timedelta(hours=24))
    assert rules.reported_late(arrival(reported_at=T0 - timedelta(hours=24)), T0, day) is None
    assert rules.reported_late(arrival(reported_at=T0 + timedelta(minutes=1)), T0, day) is None
    late = rules.reported_late(arrival(reported_at=T0 - timedelta(hours=30)), T0, day)
    assert late == "reported 30.0 h before intake received it"
    assert IntakeSettings(late_report_hours=2).rules().late_after == timedelta(hours=2)
