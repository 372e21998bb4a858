"""notify's staff directory as data: the shipped file loads and resolves every city role (a city without its own
holder falls back to the province's), every team dispatch routes to is in it, and a file naming someone it does not
define, or a role that is not a city role, is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from notify.domain.recipients import CITY_ROLES, Audience
from notify.policy.staff import DEFAULT_STAFF, load_staff

pytestmark = pytest.mark.unit

ROSTER = Path(__file__).resolve().parents[3] / "services/dispatch/dispatch/config/roster.yaml"


def test_the_shipped_directory_has_a_holder_of_every_city_role_for_every_city():
    directory = load_staff()
    for role in CITY_ROLES:
        for city in ("广州", "深圳", "佛山", None):
            assert directory.holders(role, city), (role, city)
    assert [p.ref for p in directory.holders(Audience.DUTY_SUPERVISOR, "佛山")] == ["staff:sup-gd-01"]  # province's
    assert [p.ref for p in directory.holders(Audience.DUTY_SUPERVISOR, "广州")] == ["staff:sup-gz-01"]


def test_every_team_of_the_access_and_core_routes_has_a_lead_and_someone_on_duty():
    directory, roster = load_staff(), yaml.safe_load(ROSTER.read_text(encoding="utf-8"))
    known = [t for t in roster["teams"] if directory.team(t)]
    assert {"gz-access-ops", "sz-access-ops", "prov-core-network", "gd-duty-supervisors", "cs-10086"} <= set(known)
    for team_id in known:
        team = directory.team(team_id)
        assert team and directory.staff(team.lead or "") and directory.staff(team.on_duty or ""), team_id


def test_every_person_has_a_phone_and_an_email():
    directory = load_staff()
    assert all(p.phone and p.email for p in directory.people.values())


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "staff.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_file_naming_someone_it_does_not_define_is_refused(tmp_path):
    data = {"teams": {"t1": {"name": "T", "lead": "nobody"}}, "people": {}}
    with pytest.raises(ValueError, match=r"team t1\.lead=nobody"):
        load_staff(_write(tmp_path, data))


def test_a_role_that_is_not_resolved_by_city_is_refused(tmp_path):
    data = {"people": {"p": {"name": "P"}}, "roles": {"team_lead": {"*": ["p"]}}}
    with pytest.raises(ValueError, match="not resolved by city"):
        load_staff(_write(tmp_path, data))


def test_the_default_file_is_the_one_next_to_the_rules():
    assert DEFAULT_STAFF.name == "staff.yaml" and DEFAULT_STAFF.parent.name == "policy"
