"""The queue's highlights (reporting.web.highlights): which moments a row carries — progress due, escalation at 120
and 180 minutes of processing time, restore breached — and which classes and badges hold at a given time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huying.events import EscalationRaised
from reporting.domain.facts import fold
from reporting.web import highlights as h
from reporting.web.i18n import CATALOG, translator
from reporting.web.routes import ENV
from tests.unit.reporting.builders import (
    breached,
    dispatched,
    entries,
    met,
    minutes,
    moved,
    opened,
    resolved,
    resumed,
    started,
    suspended,
)

pytestmark = pytest.mark.unit


def _facts(ticket_id: str, *events, **opened_fields) -> dict:
    return {"_id": ticket_id, **fold(entries(opened(ticket_id, **opened_fields), *events))}


def _silver(ticket_id: str = "S", *more) -> dict:
    """A silver intra-city fault as sla-watch prices it: internal progress 30 min, customer cadence 1 h, restore 4 h."""
    return _facts(ticket_id, dispatched(ticket_id), started(ticket_id, "internal_progress", at=0, due=30),
                  started(ticket_id, "progress", at=0, due=60), started(ticket_id, "restore", at=0, due=240), *more,
                  tier="silver")  # fmt: skip


def _escalation(ticket_id: str, level: int, audience: str, at: float) -> EscalationRaised:
    clock = "restore" if level == 0 else f"escalation_{audience}"
    return EscalationRaised(ticket_id=ticket_id, clock=clock, policy_version="2026.1", level=level,
                            audience=audience, occurred_at=minutes(at))  # fmt: skip


def test_a_silver_fault_is_progress_due_at_30_escalated_at_120_and_180_and_breached_at_240_minutes() -> None:
    marks = h.marks(_silver())
    assert [(m["mark"], m["at"], m["rank"]) for m in marks] == [
        ("progress-due", minutes(30), 0), ("escalated", minutes(120), 1), ("escalated", minutes(180), 2),
        ("breached", minutes(240), 0),
    ]  # fmt: skip
    assert marks[0]["clock"] == "internal_progress" and marks[-1]["clock"] == "restore"
    expected = {29: [], 31: ["progress-due"], 121: ["progress-due", "escalated"], 241: list(h.MARKS)}
    for minute, classes in expected.items():
        assert h.active(marks, minutes(minute)) == classes
    assert [m["label"] for m in h.shown(marks, minutes(121))] == ["mark.progress_due", "mark.escalated_director"]
    assert [m["label"] for m in h.shown(marks, minutes(181))][1] == "mark.escalated_deputy_gm"  # the highest reached


def test_a_gold_fault_escalates_to_the_director_as_its_two_hour_restore_limit_passes() -> None:
    facts = _facts("G", dispatched("G"), started("G", "internal_progress", at=0, due=30),
                   started("G", "restore", at=0, due=120))  # fmt: skip
    assert h.active(h.marks(facts), minutes(120)) == ["progress-due", "escalated", "breached"]


def test_progress_stays_due_after_its_breach_until_a_note_starts_the_next_instance() -> None:
    silent = _silver("S", breached("S", "internal_progress", due=30))
    assert h.active(h.marks(silent), minutes(31)) == ["progress-due"]  # sla-watch starts no instance by itself
    noted = _silver("S", breached("S", "internal_progress", due=30), met("S", "internal_progress", at=35, due=30),
                    started("S", "internal_progress", at=35, due=65, seq=2))  # fmt: skip
    assert h.active(h.marks(noted), minutes(36)) == []
    assert h.marks(noted)[0]["at"] == minutes(60)  # now the customer cadence (1 h) is the first progress due


def test_a_paused_clock_is_never_due_and_suspension_puts_the_escalation_later() -> None:
    paused = _silver(
        "S",
        suspended("S", at=10),
        moved("S", "internal_progress", at=10, old=30, new=None),
        moved("S", "progress", at=10, old=60, new=None),
        moved("S", "restore", at=10, old=240, new=None),
    )
    assert h.marks(paused) == []  # suspended: no deadline runs, the escalation waits for the resume
    back = _silver("S", suspended("S", at=10), resumed("S", at=40))
    assert h.escalation_at(back, 1) == minutes(150) and h.escalation_at(back, 2) == minutes(210)
    late = _silver("S", suspended("S", at=130), resumed("S", at=140))
    assert h.escalation_at(late, 1) == minutes(120) and h.escalation_at(late, 2) == minutes(190)


def test_an_escalation_that_arrived_marks_the_row_even_without_a_restore_clock() -> None:
    facts = _facts("L", dispatched("L"), _escalation("L", 0, "leadership", at=0), tier="gold")
    marks = h.marks(facts)
    assert h.active(marks, minutes(0)) == ["escalated"]
    assert [m["label"] for m in h.shown(marks, minutes(0))] == ["mark.escalated_leadership"]


def test_a_resolved_ticket_keeps_only_its_restore_breach_and_a_met_restore_marks_nothing() -> None:
    late = _silver("S", breached("S", "restore", due=240), resolved("S", restored=250))
    assert [m["mark"] for m in h.marks(late)] == ["breached"]
    in_time = _silver("S", resolved("S", restored=100), met("S", "restore", at=100, due=240))
    assert h.marks(in_time) == []


def test_decorate_gives_each_row_its_marks_first_render_classes_and_visible_badges() -> None:
    facts = [_silver("S"), _facts("N", dispatched("N"))]
    rows = h.decorate([{"ticket_id": "S"}, {"ticket_id": "N"}, {"ticket_id": "gone"}], facts, minutes(125))
    assert rows[0]["classes"] == ["progress-due", "escalated"] and rows[2]["marks"] == []
    assert rows[1]["classes"] == ["escalated"]  # no restore clock (yet): escalation runs from the report
    assert [(m["mark"], m["visible"]) for m in rows[0]["marks"]] == [
        ("progress-due", True), ("escalated", True), ("escalated", False), ("breached", False)]  # fmt: skip


def test_the_queue_fragment_carries_each_marks_moment_and_shows_only_the_active_badges() -> None:
    row = {"ticket_id": "S", "state": "dispatched", "teams": ["gz-access-ops"], "tier": "silver", "clock": None}
    [row] = h.decorate([row], [_silver("S")], minutes(125))
    html = ENV.get_template("_queue.html").render(t=translator("en"), rows=[row])
    assert 'class="progress-due escalated"' in html
    assert f'data-at="{int(minutes(180).timestamp() * 1000)}"' in html
    assert html.count(" hidden>") == 2 and "escalated: director" in html and "restore breached" in html
    assert all(key in CATALOG[lang] for key in ("mark.title", *h.LABELS.values()) for lang in CATALOG)


@st.composite
def clock_facts(draw) -> dict:
    """Facts of an open ticket with any of the highlighted clocks, running or breached, and any escalations."""
    clocks = []
    for kind in ("internal_progress", "progress", "restore"):
        for seq in range(1, draw(st.integers(0, 3)) + 1):
            due = minutes(draw(st.integers(-600, 600)))
            outcome = draw(st.sampled_from(["running", "breached", "met", "cancelled"]))
            clocks.append({"clock": kind, "seq": seq, "deadline": due, "outcome": outcome,
                           "started_at": due - timedelta(minutes=30)})  # fmt: skip
    raised = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(-600, 600))))
    escalations = [{"level": level, "at": minutes(m)} for level, m in raised]
    status = draw(st.sampled_from(["open", "resolved"]))
    return {"_id": "X", "status": status, "clocks": clocks, "escalations": escalations, "suspensions": []}


@given(clock_facts(), st.integers(-900, 900), st.integers(0, 900))
def test_classes_only_ever_come_on_as_time_passes(facts: dict, start: int, later: int) -> None:
    marks = h.marks(facts)
    before, after = h.active(marks, minutes(start)), h.active(marks, minutes(start + later))
    assert set(before) <= set(after)
    assert {m["mark"] for m in h.shown(marks, minutes(start))} == set(before)  # a badge for every class, no more
    assert len(h.shown(marks, minutes(start))) == len(before)
    if facts["status"] == "resolved":
        assert set(after) <= {"breached"}  # progress and escalation are work in hand
