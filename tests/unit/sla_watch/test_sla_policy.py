"""The shipped policy file says exactly what DOMAIN.md says, row by row and column by column."""

from __future__ import annotations

import re
from datetime import timedelta
from fractions import Fraction

import pytest
import yaml
from pydantic import ValidationError

from huying.events import Category, ClockKind, Scope, Tier
from sla_watch.domain import PolicyBook, Span, Unit, span_for
from sla_watch.policy_loader import DEFAULT_POLICY, load_policy, load_policy_book, merge

from .builders import FAST_POLICY, POLICY, T0

pytestmark = pytest.mark.unit

TIERS = (Tier.GOLD, Tier.SILVER, Tier.BRONZE, Tier.STANDARD)

# DOMAIN.md § Restore time limit (表72), hours: rows by scope, columns gold/silver/bronze/standard.
RESTORE_HOURS = {
    Scope.INTRA_CITY: (2, 4, 6, 8),
    Scope.INTER_CITY: (2, 4, 6, 8),
    Scope.INTER_PROVINCE: (4, 5, 6, 8),
}
PROGRESS_MINUTES = (30, 60, None, None)  # 表73 "during handling"
FEEDBACK_MINUTES = (30, 30, 30, 30)  # 表73 "cause and result"
WRITTEN_REPORT = ((Unit.WORKING_DAYS, 2, False), (Unit.DAYS, 7, True), None, None)  # 表74
REPEAT_FAULTS = (4, 6, 8, 10)  # 表75
OUTAGE_HOURS = (6, 12, 24, 48)  # 表75
CUTOVER_LEAD_WD = (7, 5, 4, 4)  # 信息通告
CUTOVER_RECIPIENT = ("customer", "customer", "account_manager", "account_manager")
CUTOVER_FORM = ("letter", "ticket_or_email", "ticket_or_email", "ticket_or_email")
CUTOVER_CONFIRMATION = (True, True, False, False)
CUTOVER_ADJUSTABLE = (True, False, False, False)
CUTOVER_CONFIRM_AFTER = (True, True, False, False)
ACCEPTANCE_WD = (10, 10, 15, 15)
CONSTRUCTION_FEEDBACK = {Category.ACCESS: (3, 3, 2, 2), Category.OVERLAY: (1, 1, 1, 1)}
RESTORE_SERVICE_WD = {
    Scope.INTRA_CITY: (1, 1, 2, 2),
    Scope.INTER_CITY: (2, 2, 3, 3),
    Scope.INTER_PROVINCE: (2, 2, 3, 3),
}

CELLS = [(tier, i) for i, tier in enumerate(TIERS)]


@pytest.mark.parametrize("scope", list(RESTORE_HOURS))
@pytest.mark.parametrize(("tier", "col"), CELLS)
def test_restore_limit_matches_table_72(scope: Scope, tier: Tier, col: int) -> None:
    span = span_for(ClockKind.RESTORE, tier=tier, scope=scope, policy=POLICY)
    assert span == Span(hours=RESTORE_HOURS[scope][col])


@pytest.mark.parametrize(("tier", "col"), CELLS)
def test_progress_cadence_and_feedback_match_table_73(tier: Tier, col: int) -> None:
    progress = span_for(ClockKind.PROGRESS, tier=tier, scope=Scope.INTRA_CITY, policy=POLICY)
    assert progress == (None if PROGRESS_MINUTES[col] is None else Span(minutes=PROGRESS_MINUTES[col]))
    assert span_for(ClockKind.FEEDBACK, tier=tier, scope=Scope.INTRA_CITY, policy=POLICY) == Span(
        minutes=FEEDBACK_MINUTES[col]
    )


@pytest.mark.parametrize(("tier", "col"), CELLS)
def test_written_report_matches_table_74(tier: Tier, col: int) -> None:
    term = POLICY.written_report.term(tier)
    expected = WRITTEN_REPORT[col]
    if expected is None:
        assert term is None
    else:
        assert (term.unit, term.value, term.on_request) == expected


@pytest.mark.parametrize(("tier", "col"), CELLS)
def test_quality_budgets_match_table_75(tier: Tier, col: int) -> None:
    assert POLICY.quality_budget.repeat_faults[tier] == REPEAT_FAULTS[col]
    assert POLICY.quality_budget.outage_hours[tier] == OUTAGE_HOURS[col]


@pytest.mark.parametrize(("tier", "col"), CELLS)
def test_cutover_notice_matches_table_81(tier: Tier, col: int) -> None:
    rule = POLICY.cutover_notice
    assert rule.lead.span(tier) == Span(working_days=CUTOVER_LEAD_WD[col])
    assert rule.recipient[tier] == CUTOVER_RECIPIENT[col]
    assert rule.form[tier] == CUTOVER_FORM[col]
    assert rule.customer_confirmation[tier] is CUTOVER_CONFIRMATION[col]
    assert rule.adjustable_on_request[tier] is CUTOVER_ADJUSTABLE[col]
    assert rule.confirm_after[tier] is CUTOVER_CONFIRM_AFTER[col]
    assert rule.written_confirmation_before_start[tier] is (tier is Tier.GOLD)


@pytest.mark.parametrize(("tier", "col"), CELLS)
def test_provisioning_tables_match_domain(tier: Tier, col: int) -> None:
    rule = POLICY.provisioning
    assert rule.acceptance.span(tier) == Span(working_days=ACCEPTANCE_WD[col])
    for category, counts in CONSTRUCTION_FEEDBACK.items():
        assert rule.construction_feedback_count[category][tier] == counts[col]
    for category in Category:
        for scope, days in RESTORE_SERVICE_WD.items():
            assert rule.restore_service[category].span(scope, tier) == Span(working_days=days[col])


def test_single_numbers_match_domain() -> None:
    p = POLICY
    assert p.acceptance.within == Span(minutes=10)
    assert p.contact.within == Span(minutes=15)
    assert (p.escalation.director, p.escalation.deputy_gm) == (Span(minutes=120), Span(minutes=180))
    assert p.escalation.leadership_notice_tiers == {Tier.GOLD, Tier.SILVER}
    assert p.escalation.tiers == set(TIERS)
    assert (p.internal_report.within, p.internal_report.remediation) == (Span(working_days=2), Span(working_days=1))
    assert p.follow_up.within == Span(hours=24)
    assert p.backfill.within == Span(hours=24)
    assert p.suspension.requires_consent and p.suspension.requires_approval
    assert p.cutover_notice.emergency_lead == Span(days=1)
    rc = p.provisioning.resource_check
    assert [rc.resources_available, rc.core_missing, rc.access_one_point, rc.access_several_points] == [
        Span(working_days=n) for n in (2, 3, 2, 5)
    ]
    assert p.provisioning.stop == Span(working_days=3)
    assert p.provisioning.final_acceptance_months == 3
    pw = p.provisioning.prewarning
    assert (pw.before_due, pw.expedited_before_due, pw.automatic_before_due) == (
        Span(days=7),
        Span(days=3),
        Span(working_days=10),
    )
    assert p.general_response["call_answer"] == Span(seconds=20)
    assert p.general_response["message_non_working_day"] == Span(hours=48)
    sf = p.severe_fault
    assert (sf.outage_minutes, sf.same_city_reports, sf.non_diamond_inter_city_circuit_hours) == (30, 3, 8)
    assert sf.mark(inter_city_circuit=False) == Span(minutes=30) and sf.mark(inter_city_circuit=True) == Span(hours=8)
    assert p.warning_ratio == 0.8 and p.time_scale == 1


def test_every_section_names_its_source_in_the_file() -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    sections = re.split(r"\n(?=[a-z_]+:)", text)
    for section in sections:
        key = section.split(":", 1)[0]
        if key in ("version", "effective_from", "time_scale", "warning_ratio") or key.startswith("#"):
            continue
        assert "DOMAIN.md" in section or "seed" in section, f"section {key!r} does not name its source"


def test_a_deployment_overrides_one_number_and_keeps_the_rest(tmp_path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        'version: "2026.1-gd"\nacceptance: {within: {minutes: 5}}\nrestore: {within: {inter_province: {gold: 3}}}\n',
        encoding="utf-8",
    )
    policy = load_policy(override=site)
    assert policy.version == "2026.1-gd"
    assert policy.acceptance.within == Span(minutes=5)
    assert policy.restore.within.span(Scope.INTER_PROVINCE, Tier.GOLD) == Span(hours=3)
    assert policy.restore.within.span(Scope.INTER_PROVINCE, Tier.SILVER) == Span(hours=5)


def test_an_override_must_carry_its_own_version(tmp_path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("acceptance: {within: {minutes: 5}}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="version"):
        load_policy(override=site)


@pytest.mark.parametrize(
    "patch",
    [
        {"acceptance": {"within": {"minutes": 10, "hours": 1}}},  # two units
        {"acceptance": {"within": {"minutes": -1}}},
        {"restore": {"within": {"intra_city": {"standard": None}}}},  # every tier has a restore limit
        {"warning_ratio": 1.5},
        {"time_scale": "0"},
        {"escalation": {"tiers": ["platinum"]}},
        {"unknown_section": 1},
    ],
)
def test_invalid_numbers_are_rejected_at_load(patch: dict) -> None:
    data = merge(yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8")), patch)
    with pytest.raises(ValidationError):
        type(POLICY).model_validate(data)


def test_fast_policy_scales_minutes_to_seconds() -> None:
    assert FAST_POLICY.version == "2026.1-fast"
    assert FAST_POLICY.time_scale == Fraction(1, 60)
    assert FAST_POLICY.acceptance.within.scaled(FAST_POLICY.time_scale) == timedelta(seconds=10)
    assert Span(hours=2).scaled(FAST_POLICY.time_scale) == timedelta(minutes=2)
    assert Span(working_days=2).scaled(FAST_POLICY.time_scale) == timedelta(minutes=48)


def test_policy_book_picks_the_version_in_force(tmp_path) -> None:
    later = tmp_path / "later.yaml"
    later.write_text(
        DEFAULT_POLICY.read_text(encoding="utf-8")
        .replace('version: "2026.1"', 'version: "2026.2"')
        .replace("2026-01-01T00:00:00+08:00", "2026-07-01T00:00:00+08:00"),
        encoding="utf-8",
    )
    book = load_policy_book(later, DEFAULT_POLICY)
    assert book.at(T0).version == "2026.1"
    assert book.at(T0.replace(month=8)).version == "2026.2"
    assert book.at(T0.replace(year=2020)).version == "2026.1"  # before any: the earliest
    assert PolicyBook.of(POLICY).at(T0) is POLICY
    with pytest.raises(ValueError, match="unique"):
        PolicyBook((POLICY, POLICY))
