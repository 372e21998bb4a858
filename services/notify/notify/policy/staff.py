"""Reading notify's staff directory (`staff.yaml`) into the `InMemoryStaffDirectory` that planning resolves
audiences with. A person or team a file names but does not define, or a role that is not a city role, stops the
start."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from notify.domain.recipients import CITY_ROLES, Audience, InMemoryStaffDirectory, Person, Team

DEFAULT_STAFF = Path(__file__).resolve().parent / "staff.yaml"
PROVINCE = "*"  # the key of a role's province-wide holders


class _Team(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    city: str | None = None
    phone: str | None = None
    email: str | None = None
    webhook: str | None = None
    lead: str | None = None
    on_duty: str | None = None


class _Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    phone: str | None = None
    email: str | None = None
    webhook: str | None = None
    locale: str | None = None


class StaffFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    teams: dict[str, _Team] = Field(default_factory=dict)
    people: dict[str, _Person] = Field(default_factory=dict)
    roles: dict[Audience, dict[str, list[str]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references_exist(self) -> StaffFile:
        unknown = [
            f"team {tid}.{attr}={sid}"
            for tid, team in self.teams.items()
            for attr, sid in (("lead", team.lead), ("on_duty", team.on_duty))
            if sid and sid not in self.people
        ]
        for role, cities in self.roles.items():
            if role not in CITY_ROLES:
                raise ValueError(f"role {role} is not resolved by city (city roles: {sorted(CITY_ROLES)})")
            unknown += [
                f"role {role}.{city}={sid}" for city, ids in cities.items() for sid in ids if sid not in self.people
            ]
        if unknown:
            raise ValueError(f"staff named but not defined under people: {', '.join(unknown)}")
        return self

    def directory(self) -> InMemoryStaffDirectory:
        people = {sid: Person(ref=f"staff:{sid}", **p.model_dump()) for sid, p in self.people.items()}
        teams = {tid: Team(team_id=tid, **t.model_dump()) for tid, t in self.teams.items()}
        roles = {
            (role, None if city == PROVINCE else city): tuple(ids)
            for role, cities in self.roles.items()
            for city, ids in cities.items()
        }
        return InMemoryStaffDirectory(teams=teams, people=people, roles=roles)


def load_staff(path: Path | str = DEFAULT_STAFF) -> InMemoryStaffDirectory:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return StaffFile.model_validate(data).directory()
