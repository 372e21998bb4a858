"""PRC working days: holidays, make-up working days (调休), 24:00 Shanghai deadlines, unknown years never silent."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from huying.events import ClockKind, Tier
from sla_watch.domain import (
    SHANGHAI,
    CalendarOverrides,
    Span,
    UnknownCalendarYear,
    WorkingCalendar,
    YearOverride,
    deadline_for,
    prc_calendar,
)
from sla_watch.policy_loader import DEFAULT_CALENDAR_OVERRIDES, load_calendar

from .builders import CALENDAR, T0, opened, resolved, run

pytestmark = pytest.mark.unit


def shanghai(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Shanghai wall time, as UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Friday before the Spring Festival
        (date(2026, 2, 14), True),  # Saturday, make-up working day
        (date(2026, 2, 15), False),  # Sunday, holiday starts
        (date(2026, 2, 16), False),
        (date(2026, 2, 20), False),  # Friday inside the holiday
        (date(2026, 2, 23), False),  # Monday, last holiday day
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday, make-up working day
        (date(2026, 3, 1), False),  # ordinary Sunday
        (date(2026, 9, 20), True),  # Sunday, make-up working day for National Day
        (date(2026, 9, 30), True),
        (date(2026, 10, 1), False),
        (date(2026, 10, 7), False),  # Wednesday, last National Day holiday
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday, make-up working day
        (date(2026, 10, 11), False),
    ],
)
def test_2026_spring_festival_and_national_day(day: date, working: bool) -> None:
    assert CALENDAR.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Friday afternoon before the Spring Festival: Sat 14 (make-up) is the 1st, Tue 24 the 2nd.
        (shanghai(2026, 2, 13, 15), 2, shanghai(2026, 2, 25)),
        (shanghai(2026, 2, 13, 15), 1, shanghai(2026, 2, 15)),
        # Inside the holiday: Tue 24 and Wed 25.
        (shanghai(2026, 2, 18, 10), 2, shanghai(2026, 2, 26)),
        # Friday 27: Sat 28 (make-up) and Mon 2 March.
        (shanghai(2026, 2, 27, 23, 59), 2, shanghai(2026, 3, 3)),
        # Saturday 19 Sept: Sun 20 (make-up) and Mon 21.
        (shanghai(2026, 9, 19, 9), 2, shanghai(2026, 9, 22)),
        # 30 Sept: holiday 1–7 Oct, then Thu 8 and Fri 9.
        (shanghai(2026, 9, 30, 18), 2, shanghai(2026, 10, 10)),
        # Fri 9 Oct: Sat 10 (make-up) and Mon 12.
        (shanghai(2026, 10, 9, 12), 2, shanghai(2026, 10, 13)),
        # 00:30 Shanghai on 1 Oct is still 30 Sept in UTC: the *local* date counts.
        (shanghai(2026, 10, 1, 0, 30), 1, shanghai(2026, 10, 9)),
    ],
)
def test_within_n_working_days_ends_at_local_midnight_of_the_nth_working_day(start, n, due) -> None:
    priced = deadline_for(Span(working_days=n), start=start, calendar=CALENDAR)
    assert priced.deadline == due
    assert not priced.provisional


def test_written_report_of_a_gold_ticket_resolved_before_the_spring_festival() -> None:
    minutes = (shanghai(2026, 2, 13, 15) - T0).total_seconds() / 60
    sla = run(opened(minutes - 60, tier=Tier.GOLD), resolved(minutes))
    assert sla.clock(ClockKind.WRITTEN_REPORT).deadline == shanghai(2026, 2, 25)


def test_a_year_no_source_knows_is_an_error_when_asked_strictly() -> None:
    assert not CALENDAR.knows(2027)
    with pytest.raises(UnknownCalendarYear, match="2027"):
        CALENDAR.is_working_day(date(2027, 1, 4))


def test_deadlines_in_an_unknown_year_fall_back_to_weekdays_and_say_so() -> None:
    priced = deadline_for(Span(working_days=2), start=shanghai(2026, 12, 31, 10), calendar=CALENDAR)
    # 2027-01-01 is a Friday and (unknown to the package) counted as a working day: provisional.
    assert priced.deadline == shanghai(2027, 1, 5)
    assert priced.provisional and priced.unknown_years == (2027,)


def test_an_unknown_year_marks_the_clock_and_the_ledger() -> None:
    minutes = (shanghai(2026, 12, 31, 10) - T0).total_seconds() / 60
    sla = run(opened(minutes - 60), resolved(minutes))
    report = sla.clock(ClockKind.WRITTEN_REPORT)
    assert report.provisional
    assert any("2027" in note and "provisional" in note for note in sla.notes)
    assert not sla.clock(ClockKind.RESTORE).provisional


TEST_2027 = YearOverride(
    source="test fixture, not the official notice",
    holidays=frozenset({date(2027, 1, 1), date(2027, 1, 4)}),
    workdays=frozenset({date(2027, 1, 9)}),  # a Saturday
)


def test_an_override_makes_a_year_known_with_its_holidays_and_make_up_days() -> None:
    calendar = prc_calendar(CalendarOverrides(years={2027: TEST_2027}))
    assert calendar.knows(2027)
    assert not calendar.is_working_day(date(2027, 1, 4))  # Monday holiday
    assert calendar.is_working_day(date(2027, 1, 9))  # Saturday make-up day
    assert calendar.is_working_day(date(2027, 1, 5))
    priced = deadline_for(Span(working_days=2), start=shanghai(2026, 12, 31, 10), calendar=calendar)
    assert priced.deadline == shanghai(2027, 1, 7)  # Tue 5 and Wed 6
    assert not priced.provisional


def test_an_override_corrects_a_known_year_date_by_date() -> None:
    calendar = WorkingCalendar(
        overrides={2026: YearOverride(source="local order", holidays=frozenset({date(2026, 3, 3)}))}
    )
    assert not calendar.is_working_day(date(2026, 3, 3))
    assert calendar.is_working_day(date(2026, 3, 4))
    assert not calendar.is_working_day(date(2026, 2, 16))  # the package still answers for the rest


def test_the_override_file_loads_from_yaml(tmp_path) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text(
        "years:\n  2027:\n    source: test\n    holidays: [2027-01-01]\n    workdays: [2027-01-09]\n", encoding="utf-8"
    )
    calendar = load_calendar(path)
    assert calendar.overrides[2027].holidays == {date(2027, 1, 1)}
    assert calendar.is_working_day(date(2027, 1, 9))


def test_the_shipped_override_file_is_valid_and_guesses_nothing() -> None:
    assert load_calendar(DEFAULT_CALENDAR_OVERRIDES).overrides == {}
    assert load_calendar(None).knows(2026)


def test_counting_backwards_and_calendar_days() -> None:
    assert CALENDAR.count(date(2026, 2, 24), 1, step=-1).day == date(2026, 2, 14)
    assert CALENDAR.count(date(2026, 10, 12), 2, step=-1).day == date(2026, 10, 9)
    priced = deadline_for(Span(days=7), start=shanghai(2026, 2, 13, 15), calendar=CALENDAR)
    assert priced.deadline == shanghai(2026, 2, 21)  # calendar days ignore holidays
    with pytest.raises(ValueError):
        CALENDAR.count(date(2026, 1, 5), 0)


def test_a_calendar_without_the_package_knows_only_its_overrides() -> None:
    calendar = WorkingCalendar(use_package=False)
    assert not calendar.knows(2026)
    assert calendar.count(date(2026, 2, 13), 1).provisional
