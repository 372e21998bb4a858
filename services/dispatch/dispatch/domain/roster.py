"""The duty roster (值班表): teams, their members and shifts, and who gets a new work item (least-loaded)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field, model_validator

# China has had no daylight saving since 1991: a fixed offset keeps this module free of tz-database reads.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Shift(_Data):
    """Members on duty on the given weekdays between two Asia/Shanghai times (`to` before `from` wraps midnight)."""

    members: list[str] = Field(min_length=1)
    days: list[str] = Field(default_factory=lambda: list(DAYS))
    start: time = Field(alias="from")
    end: time = Field(alias="to")

    @model_validator(mode="after")
    def _known_days(self) -> Shift:
        unknown = set(self.days) - set(DAYS)
        if unknown:
            raise ValueError(f"unknown weekdays {sorted(unknown)}; use {DAYS}")
        return self

    def covers(self, local: datetime) -> bool:
        clock, day = local.time(), DAYS[local.weekday()]
        if self.start <= self.end:
            return day in self.days and self.start <= clock < self.end
        if clock >= self.start:  # the evening part of an overnight shift
            return day in self.days
        return DAYS[(local.weekday() - 1) % 7] in self.days and clock < self.end  # the morning after


class Team(_Data):
    name: str = ""
    members: list[str] = Field(min_length=1)
    shifts: list[Shift] = Field(default_factory=list, description="None: every member is always on duty.")

    @model_validator(mode="after")
    def _shift_members_belong(self) -> Team:
        strangers = {m for s in self.shifts for m in s.members} - set(self.members)
        if strangers:
            raise ValueError(f"shift members not in the team: {sorted(strangers)}")
        return self


class Staff(_Data):
    """How to reach a member on duty by phone and SMS (seed 001 "必须电话通知工单接收部门")."""

    name: str = Field(min_length=1)
    phone: str | None = None


class Roster(_Data):
    """Teams by id, the customer-service teams that confirm restoration, close and follow up (回访), and the staff
    directory the duty notification reads (name and phone of each member)."""

    customer_service_teams: list[str] = Field(default_factory=list)
    teams: dict[str, Team]
    staff: dict[str, Staff] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _staff_are_members(self) -> Roster:
        members = {m for team in self.teams.values() for m in team.members}
        if strangers := sorted(set(self.staff) - members):
            raise ValueError(f"staff not in any team: {strangers}")
        return self

    def on_duty(self, team: str, at: datetime) -> list[str]:
        """Members of `team` on duty at `at`, in roster order (all members when the team has no shifts)."""
        spec = self.teams.get(team)
        if spec is None:
            return []
        if not spec.shifts:
            return list(spec.members)
        local = at.astimezone(SHANGHAI)
        duty = {m for shift in spec.shifts if shift.covers(local) for m in shift.members}
        return [m for m in spec.members if m in duty]


def pick_assignee(candidates: Iterable[str], loads: Mapping[str, int], *, avoid: Iterable[str] = ()) -> str | None:
    """Least-loaded candidate (ties: roster order), preferring anyone not in `avoid`; None when nobody is on duty."""
    people = list(candidates)
    fresh = [p for p in people if p not in set(avoid)] or people
    if not fresh:
        return None
    return min(fresh, key=lambda p: (loads.get(p, 0), people.index(p)))
