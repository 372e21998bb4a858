"""The ticket page's operator actions (reporting.web.actions): the table is dispatch's API (every command, its path,
every field it needs), a filled form becomes a body dispatch's command model accepts, times are the center's local
time, and the panel shows exactly the actions dispatch allows, in every word of both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from dispatch.api import PATHS
from dispatch.domain.model import State
from huying.events import CauseCategory
from reporting.web import actions as acts
from reporting.web.dispatch_client import reason, ticket_path
from reporting.web.i18n import CATALOG, translator
from reporting.web.routes import ENV

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SAMPLE = {"text": "光缆中断", "textarea": "已更换光模块", "time": "2026-03-02T09:30", "yesno": "true", "check": "on",
          "teams": "gz-access-ops, gz-core-ops"}  # fmt: skip


def _model_fields(model: type[BaseModel]) -> set[str]:
    names = set()
    for name, info in model.model_fields.items():
        inner = info.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            names |= {f"{name}.{sub}" for sub in inner.model_fields}
        else:
            names.add(name)
    return names


def _filled(action: acts.Action) -> dict[str, str]:
    return {f.name: f.choices[0] if f.kind == "choice" else SAMPLE.get(f.kind, "") for f in action.fields}


def test_the_table_is_dispatchs_api_every_command_with_its_path() -> None:
    assert {m.action: path for m, (path, _) in PATHS.items()} == {a.name: a.path for a in acts.ACTIONS.values()}
    assert sorted(acts.ORDER) == sorted(acts.ACTIONS)


@pytest.mark.parametrize("model", list(PATHS), ids=lambda m: m.action)
def test_each_form_asks_for_every_field_its_command_needs_and_only_those(model) -> None:
    action = acts.ACTIONS[model.action]
    asked = {f.name for f in action.fields}
    assert asked <= _model_fields(model) - {"expected_version"}
    required = {n for n, info in model.model_fields.items() if info.is_required()}
    assert {n.partition(".")[0] for n in asked} >= required
    body = acts.body_from_form(action, {**_filled(action), "expected_version": "3"}, now=NOW)
    command = model.model_validate(body)  # what dispatch will parse
    assert command.expected_version == 3


def test_the_resolve_form_offers_every_cause_category_and_times_are_shanghai_time() -> None:
    resolve = acts.ACTIONS["resolve"]
    categories = next(f for f in resolve.fields if f.name == "cause_category").choices
    assert categories == tuple(c.value for c in CauseCategory)
    body = acts.body_from_form(resolve, {"cause_category": "third_party", "cause": "施工挖断光缆",
                                         "restored_at": "2026-03-02T09:45"}, now=NOW)  # fmt: skip
    assert datetime.fromisoformat(body["restored_at"]) == datetime(2026, 3, 2, 1, 45, tzinfo=UTC)
    assert "resolution" not in body and "team" not in body  # empty optional fields: dispatch's defaults
    assert acts.body_from_form(resolve, {"cause": "x"}, now=NOW)["restored_at"] == NOW.isoformat()  # empty = now
    assert acts.body_from_form(resolve, {"restored_at": "2026-03-02T01:45:00+00:00"}, now=NOW)["restored_at"] == (
        "2026-03-02T01:45:00+00:00")  # fmt: skip


def test_a_form_that_cannot_become_json_names_the_field() -> None:
    with pytest.raises(acts.FormError) as bad_time:
        acts.body_from_form(acts.ACTIONS["contact"], {"reached": "true", "contacted_at": "yesterday"}, now=NOW)
    assert bad_time.value.field == "contacted_at"
    with pytest.raises(acts.FormError) as no_answer:
        acts.body_from_form(acts.ACTIONS["contact"], {"reached": ""}, now=NOW)
    assert no_answer.value.field == "reached"
    with pytest.raises(acts.FormError) as no_start:
        acts.body_from_form(acts.ACTIONS["exclusion"], {"kind": "interconnection", "end": "2026-03-02T09:00"}, now=NOW)
    assert no_start.value.field == "start"  # an interval's ends are never "now" by default
    with pytest.raises(acts.FormError):
        acts.body_from_form(acts.ACTIONS["close"], {"expected_version": "v3"}, now=NOW)


def test_yes_no_checkboxes_teams_and_nested_fields() -> None:
    contact = acts.body_from_form(acts.ACTIONS["contact"], {"reached": "false", "not_reached_reason": "无人接听",
                                                            "method": "phone"}, now=NOW)  # fmt: skip
    assert contact["reached"] is False and contact["not_reached_reason"] == "无人接听"
    assert acts.body_from_form(acts.ACTIONS["progress"], {"note": "n"}, now=NOW)["customer_informed"] is False
    assert acts.body_from_form(acts.ACTIONS["progress"], {"note": "n", "customer_informed": "true"},
                               now=NOW)["customer_informed"] is True  # fmt: skip
    assert acts.body_from_form(acts.ACTIONS["dispatch"], {"teams": "a,b  c"}, now=NOW)["teams"] == ["a", "b", "c"]
    suspend = acts.body_from_form(acts.ACTIONS["suspend"], {"reason": "客户机房断电", "consent.by": "王伟",
                                                            "consent.method": "phone"}, now=NOW)  # fmt: skip
    assert suspend["consent"] == {"by": "王伟", "method": "phone", "at": NOW.isoformat()}
    assert acts.body_from_form(acts.ACTIONS["close"], {}, now=NOW) == {}


def test_the_page_offers_what_dispatch_allows_in_its_order_and_the_operators_teams_with_work() -> None:
    allowed = ["cancel", "contact", "progress", "resolve", "future_action"]
    assert [a.name for a in acts.offered(allowed)] == ["contact", "progress", "resolve", "cancel"]
    ticket = {"work_items": [{"team": "a", "status": "accepted"}, {"team": "b", "status": "transferred"},
                             {"team": "c", "status": "dispatched"}, {"team": "d", "status": "accepted"}]}  # fmt: skip
    assert acts.my_teams(ticket, ["a", "b", "c"]) == ["a", "c"]


def _panel(allowed: list[str], lang: str = "zh-CN", teams: list[str] | None = None) -> str:
    dispatch = {"state": "in_progress", "version": 4, "allowed_actions": allowed}
    return ENV.get_template("_actions.html").render(
        t=translator(lang),
        ticket_id="T-1",
        code=200,
        reason="",
        dispatch=dispatch,
        offered=acts.offered(allowed),
        my_teams=teams or [],
    )


@given(st.lists(st.sampled_from(acts.ORDER), unique=True))
def test_the_panel_has_one_form_per_allowed_action_each_posting_its_own_route(allowed: list[str]) -> None:
    html = _panel(allowed)
    assert html.count("<form ") == len(allowed)
    for name in allowed:
        assert f'hx-post="/tickets/T-1/actions/{name}"' in html
    assert html.count('name="expected_version" value="4"') == len(allowed)
    assert 'id="accept"' in html if "accept" in allowed else 'id="accept"' not in html


def test_the_panel_asks_which_team_only_when_several_of_yours_have_work_and_says_when_dispatch_is_away() -> None:
    assert 'name="team"' not in _panel(["resolve"], teams=["a"])
    assert 'name="team"' in _panel(["resolve"], teams=["a", "b"])
    away = ENV.get_template("_actions.html").render(t=translator("en"), ticket_id="T-1", code=502,
                                                    reason="dispatch unreachable: ConnectError", dispatch={},
                                                    offered=[], my_teams=[])  # fmt: skip
    assert 'id="actions-unavailable"' in away and "502" in away and "<form" not in away


def test_every_word_of_the_actions_is_in_both_languages() -> None:
    words = {f"act.{name}" for name in acts.ACTIONS} | {f"dstate.{s}" for s in State}
    for action in acts.ACTIONS.values():
        words |= {f.word for f in action.fields} | {f"choice.{c}" for f in action.fields for c in f.choices}
    for lang in CATALOG:
        assert words <= set(CATALOG[lang]), sorted(words - set(CATALOG[lang]))
    english = _panel(list(acts.ORDER), "en")
    assert "Resolve" in english and "third party (e.g. cable cut)" in english and "field." not in english


def test_dispatchs_refusal_reads_as_its_reason_and_a_422_names_the_field() -> None:
    invalid = httpx.Response(422, json={"detail": [{"loc": ["body", "contacted_at"], "msg": "is in the future"}]})
    assert reason(invalid) == "contacted_at: is in the future"
    conflict = httpx.Response(409, json={"detail": {"error": "invalid_transition", "reason": "cannot accept"}})
    assert reason(conflict) == "cannot accept"
    assert reason(httpx.Response(500, text="boom")) == "boom"
    assert ticket_path("T/../../x", "fault-report") == "/v1/tickets/T%2F..%2F..%2Fx/fault-report"
