"""The queue's order: restore by assurance-level priority, then by deadline (seed 001 2-(4))."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.domain.model import Ticket
from dispatch.domain.queue import RANK, level_of, queue_order
from huying.events import AssuranceLevel
from tests.unit.dispatch.builders import T0

pytestmark = pytest.mark.unit


def ticket(ticket_id: str, tier: str | None, deadline_minutes: int | None = None, **kw) -> Ticket:
    deadline = T0 + timedelta(minutes=deadline_minutes) if deadline_minutes is not None else None
    fields = {"opened_at": T0, "reported_at": T0, "tier": tier, "restore_deadline": deadline} | kw
    return Ticket(ticket_id=ticket_id, **fields)


def test_gold_before_silver_before_bronze_before_standard_whatever_the_deadlines() -> None:
    queue = [
        ticket("standard-soon", "standard", 10),
        ticket("bronze", "bronze", 20),
        ticket("gold-late", "gold", 300),
        ticket("silver", "silver", 30),
        ticket("gold-soon", "gold", 100),
        ticket("incident", None, 5, kind="incident"),
    ]
    assert [t.ticket_id for t in queue_order(queue)] == [
        "gold-soon", "gold-late", "silver", "bronze", "incident", "standard-soon",
    ]  # fmt: skip


def test_a_lines_explicit_level_ranks_it_not_its_customers_tier() -> None:
    aa_line = ticket("aa-line", "standard", 200, assurance_level="AA")
    assert level_of(aa_line) == AssuranceLevel.AA
    order = queue_order([ticket("bronze", "bronze", 10), aa_line, ticket("silver", "silver", 300)])
    assert [t.ticket_id for t in order] == ["aa-line", "silver", "bronze"]


def test_an_unknown_deadline_comes_after_the_known_ones_of_its_level_oldest_report_first() -> None:
    older = ticket("unknown-older", "gold", reported_at=T0 - timedelta(hours=1))
    order = queue_order([ticket("unknown", "gold"), ticket("known", "gold", 500), older])
    assert [t.ticket_id for t in order] == ["known", "unknown-older", "unknown"]


ENTRIES = st.lists(
    st.tuples(
        st.sampled_from(["gold", "silver", "bronze", "standard", None]),
        st.sampled_from([None, "AAA", "AA", "A", "ordinary"]),
        st.one_of(st.none(), st.integers(0, 600)),
    ),
    max_size=12,
)


@given(ENTRIES)
def test_the_queue_never_puts_a_lower_level_or_a_later_deadline_first(entries) -> None:
    tickets = [
        ticket(f"T-{n}", tier, minutes, assurance_level=level) for n, (tier, level, minutes) in enumerate(entries)
    ]
    order = queue_order(tickets)
    assert sorted(t.ticket_id for t in order) == sorted(t.ticket_id for t in tickets)
    for first, second in itertools.pairwise(order):
        assert RANK[level_of(first)] <= RANK[level_of(second)]
        if level_of(first) == level_of(second):
            assert not (first.restore_deadline is None and second.restore_deadline is not None)
            if first.restore_deadline and second.restore_deadline:
                assert first.restore_deadline <= second.restore_deadline
