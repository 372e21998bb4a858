"""Only the operator's causes count (seed 001 表72 note) and the line's assurance level prices the restore limit and
the quality budget while the customer's tier prices the communication (DOMAIN.md "Customer tier and assurance
level")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huying.events import OPERATOR_CAUSES, AssuranceLevel, CauseCategory, ClockKind, Scope, Tier
from sla_watch.domain import Change, transitions
from sla_watch.domain.messages import transition_event
from sla_watch.domain.quality import fault_of

from . import builders as b

pytestmark = pytest.mark.unit
K = ClockKind


def restore_verdict(*events):
    before, after = b.run(*events[:-1]), b.run(*events)
    [verdict] = [tr for tr in transitions(before, after) if tr.clock is K.RESTORE]
    return verdict


@pytest.mark.parametrize("category", list(CauseCategory))
def test_a_restore_verdict_counts_only_for_the_operators_causes(category) -> None:
    late = restore_verdict(b.opened(0), b.resolved(200, cause_category=category))  # gold: 2 h, restored at 3 h 20
    in_time = restore_verdict(b.opened(0), b.resolved(60, cause_category=category))
    assert (late.change, in_time.change) == (Change.BREACHED, Change.MET)
    counted = category in OPERATOR_CAUSES
    assert late.counted is counted and in_time.counted is counted
    event = transition_event(late, at=b.at(200))
    assert event.type == "SlaBreached" and event.counted is counted
    # no category stated (events from before it existed): counted as the operator's
    assert restore_verdict(b.opened(0), b.resolved(200)).counted


def test_only_the_restore_clock_carries_the_exclusion() -> None:
    before = b.run(b.opened(0))
    after = b.run(b.opened(0), b.resolved(200, cause_category=CauseCategory.THIRD_PARTY))
    others = [tr for tr in transitions(before, after) if tr.clock is not K.RESTORE]
    assert others and all(tr.counted for tr in others)  # the duties to the customer are owed whatever the cause


@settings(max_examples=100, deadline=None)
@given(category=st.sampled_from([*CauseCategory, None]), restored=st.integers(1, 900), reopen=st.booleans())
def test_a_non_operator_fault_never_counts_against_the_line(category, restored, reopen) -> None:
    events = [b.opened(0, service_line_id="L-1"), b.resolved(restored, cause_category=CauseCategory.OPERATOR_EQUIPMENT)]
    if reopen:  # re-resolved with another cause: the last resolution's cause decides
        events += [b.reopened(restored + 10), b.resolved(restored + 20, cause_category=category)]
    else:
        events[-1] = b.resolved(restored, cause_category=category)
    fault = fault_of(b.run(*events), service_line_id="L-1", terminal_only=False)
    assert (fault is not None) is (category is None or category in OPERATOR_CAUSES)


def test_the_lines_level_prices_restore_and_quality_and_the_tier_prices_the_rest() -> None:
    # a gold customer on an AA line: restore 4 h (表72 AA), progress every 30 min (表73 gold)
    sla = b.run(b.opened(0, tier=Tier.GOLD, assurance_level=AssuranceLevel.AA))
    assert sla.clock(K.RESTORE).deadline == b.at(4 * 60)
    assert sla.clock(K.PROGRESS).deadline == b.at(30)
    assert sla.assurance_level is AssuranceLevel.AA
    # a standard customer on an AAA line: restore 2 h; no proactive cadence; AAA 全阻 tells leadership at once
    std = b.run(b.opened(0, tier=Tier.STANDARD, assurance_level=AssuranceLevel.AAA, full_outage=True))
    assert std.clock(K.RESTORE).deadline == b.at(2 * 60) and std.clock(K.PROGRESS) is None
    assert std.leadership_notice_at == b.at(0)
    # by default the level follows the tier
    assert b.run(b.opened(0, tier=Tier.SILVER)).assurance_level is AssuranceLevel.AA
    assert b.run(b.opened(0, tier=Tier.SILVER, scope=Scope.INTER_PROVINCE)).clock(K.RESTORE).deadline == b.at(300)
    done = b.run(b.opened(0, tier=Tier.GOLD, assurance_level=AssuranceLevel.A), b.resolved(60))
    assert fault_of(done, service_line_id="L-1", terminal_only=False).tier is Tier.BRONZE  # 表75 at level A


def test_a_tier_change_keeps_an_explicit_level_and_moves_a_default_one() -> None:
    explicit = b.run(b.opened(0, tier=Tier.SILVER, assurance_level=AssuranceLevel.AAA), b.tier_changed(10, Tier.BRONZE))
    assert explicit.clock(K.RESTORE).deadline == b.at(120)  # the line is still AAA
    default = b.run(b.opened(0, tier=Tier.SILVER), b.tier_changed(10, Tier.GOLD))
    assert default.clock(K.RESTORE).deadline == b.at(120)  # AA → AAA with the customer
