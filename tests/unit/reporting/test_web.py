"""The dashboard's pure parts: users and password hashing, the queue's rows (next deadline, share of allowance,
colour thresholds, filters, order by time to breach) and the catalog's completeness."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huying.access import Role
from huying.events import Tier
from huying.events.sla import ClockKind
from reporting.domain.facts import fold
from reporting.settings import ReportingSettings
from reporting.web import queue as q
from reporting.web.i18n import CATALOG, DEFAULT, translator
from reporting.web.routes import ENV
from reporting.web.users import authenticate, hash_password, load_users
from tests.unit.reporting.builders import accepted, dispatched, entries, minutes, moved, opened, started

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "services" / "reporting" / "reporting" / "templates"


def test_a_password_is_stored_as_an_argon2id_hash_and_only_the_right_one_signs_in(tmp_path) -> None:
    stored = hash_password("s3cret-密码")
    assert stored.startswith("$argon2id$") and "s3cret" not in stored
    assert hash_password("s3cret-密码") != stored  # salted
    (tmp_path / "users.yaml").write_text(
        f'users:\n  - {{username: op-1, role: agent, teams: [gz-access-ops], password_hash: "{stored}"}}\n',
        encoding="utf-8",
    )
    users = load_users(tmp_path / "users.yaml")
    user = authenticate(users, "op-1", "s3cret-密码")
    assert user is not None and user.role == Role.AGENT and user.teams == ["gz-access-ops"]
    assert authenticate(users, "op-1", "wrong") is None
    assert authenticate(users, "nobody", "s3cret-密码") is None


def test_a_users_file_with_a_bad_role_or_a_name_twice_is_refused(tmp_path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - {username: a, role: boss, password_hash: x}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="user #1"):
        load_users(path)
    path.write_text("users:\n" + "  - {username: a, role: agent, password_hash: x}\n" * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        load_users(path)


def test_the_make_run_users_file_loads_and_its_demo_password_is_the_documented_one() -> None:
    users = load_users(ReportingSettings.model_fields["users_file"].default)
    assert {"op-gz-01", "sup-gd-01"} <= set(users)
    assert authenticate(users, "op-gz-01", "huying-demo") is not None


@pytest.mark.parametrize(
    ("used", "colour"),
    [(0.0, "ok"), (0.4999, "ok"), (0.5, "half"), (0.7499, "half"), (0.75, "late"), (0.9999, "late"),
     (1.0, "breach"), (3.0, "breach")],
)  # fmt: skip
def test_the_countdown_colour_changes_at_50_75_and_100_percent_of_the_allowance(used: float, colour: str) -> None:
    assert q.level(used) == colour


ORDER = ["ok", "half", "late", "breach"]


@given(st.floats(0, 5), st.floats(0, 5))
def test_the_colour_never_goes_back_as_more_of_the_allowance_is_used(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert ORDER.index(q.level(low)) <= ORDER.index(q.level(high))


@given(st.integers(0, 10_000), st.integers(1, 10_000))
def test_the_share_used_is_elapsed_over_allowance(elapsed: int, allowance: int) -> None:
    start = minutes(0)
    used = q.share(start, start + timedelta(seconds=allowance), start + timedelta(seconds=elapsed))
    assert used == pytest.approx(elapsed / allowance)


def test_the_share_of_a_zero_allowance_is_all_used() -> None:
    assert q.share(minutes(0), minutes(0), minutes(0)) == 1.0


def _facts(ticket_id: str, *events, **opened_fields) -> dict:
    return {"_id": ticket_id, **fold(entries(opened(ticket_id, **opened_fields), *events))}


def test_a_row_shows_the_running_clock_due_first_with_its_share_and_colour() -> None:
    facts = _facts("A", dispatched("A"), started("A", "acceptance", at=1, due=11, subject="gz-access-ops"),
                   started("A", "restore", at=0, due=240))  # fmt: skip
    row = q.row(facts, now=minutes(7))
    assert row["clock"]["kind"] == "acceptance" and row["clock"]["deadline"] == minutes(11)
    assert row["clock"]["share"] == pytest.approx(0.6) and row["clock"]["level"] == "half"
    assert row["state"] == "dispatched" and row["teams"] == ["gz-access-ops"] and row["tier"] == "gold"


def test_the_queue_filters_by_team_tier_city_and_state_and_puts_the_nearest_breach_first() -> None:
    a = _facts("A", dispatched("A"), started("A", "restore", at=0, due=240))
    b = _facts("B", dispatched("B", "sz-access-ops"), started("B", "restore", at=0, due=60), tier="silver",
               city="深圳")  # fmt: skip
    c = _facts("C", dispatched("C"), accepted("C", at=2))  # no running clock: last
    d = _facts("D", dispatched("D"), started("D", "acceptance", at=0, due=10, subject="gz-access-ops"))  # overdue
    closed = {**_facts("E"), "status": "closed"}
    now = minutes(30)
    assert [r["ticket_id"] for r in q.queue([a, b, c, d, closed], now, {})] == ["D", "B", "A", "C"]
    assert [r["ticket_id"] for r in q.queue([a, b, c, d], now, {"team": "sz-access-ops"})] == ["B"]
    assert [r["ticket_id"] for r in q.queue([a, b, c, d], now, {"tier": "silver"})] == ["B"]
    assert [r["ticket_id"] for r in q.queue([a, b, c, d], now, {"city": "广州"})] == ["D", "A", "C"]
    assert [r["ticket_id"] for r in q.queue([a, b, c, d], now, {"state": "accepted"})] == ["C"]
    assert q.choices(q.queue([a, b, c, d], now, {}))["city"] == ["广州", "深圳"]


def test_every_word_is_in_both_languages_and_every_template_word_and_clock_is_in_the_catalog() -> None:
    assert DEFAULT == "zh-CN" and set(CATALOG["zh-CN"]) == set(CATALOG["en"])
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""t\(["']([\w.]+)["']\)""", template.read_text(encoding="utf-8")))
    assert used and used <= set(CATALOG["en"])
    for kind in ClockKind:
        assert f"clock.{kind}" in CATALOG["en"]
    states = ["new", "dispatched", "accepted", "resolved"]
    for prefix, values in (("state", states), ("tier", [str(t) for t in Tier])):
        assert {f"{prefix}.{v}" for v in values} <= set(CATALOG["en"])
    assert translator("en")("accept") == "Accept" and translator("xx")("accept") == "签收"


def test_a_paused_clock_shows_paused_and_a_resumed_one_counts_down_to_its_moved_deadline() -> None:
    events = [
        opened("T"),
        started("T", "restore", at=0, due=240),
        moved("T", "restore", at=20, old=240, new=None, reason="paused"),
    ]

    def cell(*more) -> str:
        ticket = fold(entries(*events, *more))
        html = ENV.get_template("_ticket.html").render(t=translator("en"), ticket={**ticket, "history": []},
                                                       ticket_id="T", now=minutes(30))  # fmt: skip
        return html.split('data-clock="restore"', 1)[1].split("</tr>", 1)[0]

    assert "paused (suspended)" in cell() and "data-deadline" not in cell()
    resumed = cell(moved("T", "restore", at=50, old=None, new=270))
    assert f'data-deadline="{int(minutes(270).timestamp() * 1000)}"' in resumed and "paused" not in resumed
