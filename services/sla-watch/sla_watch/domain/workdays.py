"""PRC working days (工作日): statutory holidays and make-up working days (调休), local to Asia/Shanghai.

Sources, in order: an override file (a year it lists is known, and its dates win), then the
`chinese-calendar` package (its years are known), else the year is unknown. Strict questions about an
unknown year raise `UnknownCalendarYear`; deadline arithmetic falls back to Monday–Friday and says so
(`provisional=True` and a warning) so a guess is never silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The package's data, read once: it is constant data, so reading it here is not I/O.
_PACKAGE_HOLIDAYS = frozenset(chinese_calendar.holidays)
_PACKAGE_WORKDAYS = frozenset(chinese_calendar.workdays)
_PACKAGE_YEARS = range(min(d.year for d in _PACKAGE_HOLIDAYS), max(d.year for d in _PACKAGE_HOLIDAYS) + 1)


class UnknownCalendarYear(LookupError):
    """Neither the override file nor chinese-calendar knows this year's holidays."""


class YearOverride(BaseModel):
    """One year of the official schedule (国务院办公厅关于…节假日安排的通知), or corrections to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(min_length=1, description="The notice the dates come from.")
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


class CalendarOverrides(BaseModel):
    """The override file: years the package does not know (or corrections), keyed by year."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    years: dict[int, YearOverride] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WorkingDay:
    """A working day found by counting, and whether a guessed (Monday–Friday) year was involved."""

    day: date
    provisional: bool
    unknown_years: tuple[int, ...] = ()


@dataclass(frozen=True)
class WorkingCalendar:
    """Answers "is this a working day" and counts working days; pure, all data given at construction."""

    overrides: Mapping[int, YearOverride] = field(default_factory=dict)
    use_package: bool = True
    tz: ZoneInfo = SHANGHAI

    def knows(self, year: int) -> bool:
        """True when the year's holidays come from a source rather than a guess."""
        return year in self.overrides or (self.use_package and year in _PACKAGE_YEARS)

    def is_working_day(self, day: date) -> bool:
        """Strict: raises UnknownCalendarYear for a year no source knows."""
        if not self.knows(day.year):
            raise UnknownCalendarYear(f"no holiday schedule for {day.year}; add it to the calendar override file")
        return self._working(day)

    def _working(self, day: date) -> bool:
        year = self.overrides.get(day.year)
        if year is not None:
            if day in year.workdays:
                return True
            if day in year.holidays:
                return False
        if self.use_package and day.year in _PACKAGE_YEARS:
            if day in _PACKAGE_WORKDAYS:
                return True
            if day in _PACKAGE_HOLIDAYS:
                return False
        return day.weekday() < 5

    def count(self, start: date, n: int, *, step: int = 1) -> WorkingDay:
        """The nth working day strictly after (step=1) or before (step=-1) `start`."""
        if n < 1:
            raise ValueError("count working days from 1")
        day, found, unknown = start, 0, set()
        while found < n:
            day += timedelta(days=step)
            if not self.knows(day.year):
                unknown.add(day.year)
            found += self._working(day)
        return WorkingDay(day, bool(unknown), tuple(sorted(unknown)))

    def local_date(self, instant: datetime) -> date:
        """The Asia/Shanghai date of an aware instant."""
        return instant.astimezone(self.tz).date()

    def start_of(self, day: date) -> datetime:
        """00:00 local of `day`, as UTC."""
        return datetime.combine(day, time.min, self.tz).astimezone(UTC)

    def end_of(self, day: date) -> datetime:
        """24:00 local of `day` (= 00:00 of the next day), as UTC."""
        return self.start_of(day + timedelta(days=1))


def prc_calendar(overrides: CalendarOverrides | Mapping[int, YearOverride] | None = None) -> WorkingCalendar:
    """The production calendar: chinese-calendar plus the deployment's overrides."""
    years = overrides.years if isinstance(overrides, CalendarOverrides) else dict(overrides or {})
    return WorkingCalendar(overrides=years)


def unknown_year_warning(years: tuple[int, ...]) -> str:
    """The warning text surfaced with a provisional deadline."""
    listed = ", ".join(str(y) for y in years)
    return f"calendar: no holiday schedule for {listed}; Monday–Friday assumed, deadline provisional"
