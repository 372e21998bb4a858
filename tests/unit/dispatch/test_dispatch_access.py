"""Tokens (mint, verify, the CLI) and masking of customers' personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from dispatch import token
from dispatch.auth import mint, verify
from dispatch.domain.access import Role, can_see_contacts, mask_email, mask_phone, masked
from dispatch.settings import DispatchSettings
from tests.unit.dispatch.builders import ADMIN, AGENT, CS, OTHER, SUPERVISOR

pytestmark = pytest.mark.unit
NOW = datetime.now(UTC)
SECRET = "a-test-secret-of-at-least-32-bytes!"


def test_a_minted_token_verifies_to_the_same_operator() -> None:
    settings = DispatchSettings(token_secret=SecretStr(SECRET))
    signed = mint(settings, sub="op-gz-01", role="agent", teams=["gz-access-ops"], now=NOW, ttl=timedelta(hours=1))
    principal = verify(settings, signed, now=NOW)
    assert (principal.sub, principal.role, principal.teams) == ("op-gz-01", Role.AGENT, ["gz-access-ops"])


@pytest.mark.parametrize(
    "problem",
    ["other secret", "expired", "other audience", "unknown role", "garbage"],
)
def test_a_forged_expired_foreign_or_malformed_token_is_refused(problem) -> None:
    settings = DispatchSettings(token_secret=SecretStr(SECRET))
    signer, role, now, ttl = settings, "agent", NOW, timedelta(hours=1)
    if problem == "other secret":
        signer = DispatchSettings(token_secret=SecretStr("guess" * 8))
    elif problem == "expired":
        now = NOW - timedelta(hours=2)
    elif problem == "other audience":
        signer = DispatchSettings(token_secret=SecretStr(SECRET), token_audience="huying-reporting")
    signed = "not.a.jwt" if problem == "garbage" else mint(signer, sub="x", role=role, teams=[], now=now, ttl=ttl)
    if problem == "unknown role":
        import jwt

        signed = jwt.encode({"sub": "x", "role": "root", "exp": NOW + ttl, "iss": "huying", "aud": "huying-dispatch"},
                            SECRET, algorithm="HS256")  # fmt: skip
    with pytest.raises(ValueError):
        verify(settings, signed, now=NOW)


def test_the_token_cli_mints_with_the_configured_secret(monkeypatch, capsys) -> None:
    monkeypatch.setenv("HUYING_DISPATCH_TOKEN_SECRET", "from-env" * 4)
    assert token.main(["--sub", "sup-gd-01", "--role", "supervisor", "--team", "gd-duty-supervisors"]) == 0
    printed = capsys.readouterr().out.strip()
    principal = verify(DispatchSettings(token_secret=SecretStr("from-env" * 4)), printed, now=datetime.now(UTC))
    assert (principal.sub, principal.role, principal.teams) == ("sup-gd-01", "supervisor", ["gd-duty-supervisors"])


def test_phones_and_emails_are_masked_at_any_depth_and_in_history_keys() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("+86 20 8888 1234") == "862*****1234"
    assert mask_email("wangwei@example.com") == "w***@example.com"
    doc = {"contact": {"name": "王伟", "phone": "13800138000"}, "history": [{"contact/email": "a@b.cn"}]}
    assert masked(doc) == {
        "contact": {"name": "王伟", "phone": "138****8000"},
        "history": [{"contact/email": "a***@b.cn"}],
    }


def test_a_short_secret_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="32"):
        DispatchSettings(token_secret=SecretStr("short"))


def test_only_the_working_team_and_customer_service_see_contacts() -> None:
    working, cs = ["gz-access-ops"], ["cs-10086"]
    assert can_see_contacts(AGENT, working, cs) and can_see_contacts(CS, working, cs)
    assert not any(can_see_contacts(p, working, cs) for p in (OTHER, SUPERVISOR, ADMIN))
