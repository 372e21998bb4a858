"""Operator tokens: what verifies, what is refused and why, the secret's sources, and the CLI that mints them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import SecretStr, ValidationError

from huying import token
from huying.access import Role
from huying.settings import ServiceSettings
from huying.token import DEVELOPMENT_SECRET, InvalidToken, MissingSecret, mint, verify

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SECRET = "a-test-secret-of-at-least-32-bytes!"
HOUR = timedelta(hours=1)


def settings(**overrides) -> ServiceSettings:
    return ServiceSettings(**{"token_secret": SecretStr(SECRET), **overrides})


def claims(**changes) -> dict:
    base = {"sub": "op-gz-01", "role": "agent", "teams": ["gz-access-ops"], "name": "", "iss": "huying",
            "aud": "huying", "iat": int(NOW.timestamp()), "exp": int((NOW + HOUR).timestamp())}  # fmt: skip
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def refusal(signed: str, **overrides) -> str:
    with pytest.raises(InvalidToken) as refused:
        verify(settings(**overrides), signed, now=NOW)
    return str(refused.value)


def test_a_minted_token_verifies_to_the_same_operator() -> None:
    signed = mint(settings(), sub="op-gz-01", role="agent", teams=["gz-access-ops"], name="王伟", now=NOW, ttl=HOUR)
    principal = verify(settings(), signed, now=NOW + HOUR - timedelta(seconds=1))
    assert (principal.sub, principal.role, principal.teams, principal.name) == (
        "op-gz-01",
        Role.AGENT,
        ["gz-access-ops"],
        "王伟",
    )


def test_every_service_shares_one_issuer_and_audience() -> None:
    signed = mint(settings(), sub="x", role="admin", now=NOW, ttl=HOUR)
    decoded = jwt.decode(signed, SECRET, algorithms=["HS256"], audience="huying", options={"verify_exp": False})
    assert (decoded["iss"], decoded["aud"], decoded["exp"] - decoded["iat"]) == ("huying", "huying", 3600)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    forged = jwt.encode(claims(role="admin"), "guess" * 8, algorithm="HS256")
    assert "signature" in refusal(forged)


def test_expiry_is_checked_against_the_services_clock_not_the_wall_clock() -> None:
    signed = mint(settings(), sub="x", role="agent", now=NOW, ttl=HOUR)
    assert verify(settings(), signed, now=NOW).sub == "x"  # NOW is in the past of the wall clock: still valid
    with pytest.raises(InvalidToken, match="expired"):
        verify(settings(), signed, now=NOW + HOUR)


def test_a_token_issued_in_the_future_is_refused_beyond_a_minute_of_clock_skew() -> None:
    early = mint(settings(), sub="x", role="agent", now=NOW + timedelta(seconds=30), ttl=HOUR)
    assert verify(settings(), early, now=NOW).sub == "x"
    later = mint(settings(), sub="x", role="agent", now=NOW + timedelta(minutes=5), ttl=HOUR)
    assert "future" in refusal(later)


@pytest.mark.parametrize(("overrides", "words"), [
    ({"token_issuer": "someone-else"}, "issuer"),
    ({"token_audience": "huying-dispatch"}, "audience"),
])  # fmt: skip
def test_a_token_for_another_issuer_or_audience_is_refused(overrides, words) -> None:
    signed = mint(settings(), sub="x", role="agent", now=NOW, ttl=HOUR)
    assert words in refusal(signed, **overrides)


@pytest.mark.parametrize("claim", ["sub", "role", "iss", "aud", "iat", "exp"])
def test_a_token_missing_a_required_claim_is_refused(claim) -> None:
    signed = jwt.encode(claims(**{claim: None}), SECRET, algorithm="HS256")
    assert claim in refusal(signed)


@pytest.mark.parametrize(("changes", "words"), [
    ({"role": "root"}, "role"),
    ({"sub": ""}, "sub"),
    ({"teams": "gz-access-ops"}, "teams"),
    ({"exp": "tomorrow"}, "exp"),
    ({"iat": True}, "iat"),
])  # fmt: skip
def test_a_token_with_a_wrong_claim_is_refused_naming_it(changes, words) -> None:
    signed = jwt.encode(claims(**changes), SECRET, algorithm="HS256")
    assert words in refusal(signed)


def _unsigned(payload: dict, header: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


@pytest.mark.parametrize("alg", ["none", "None", "HS512", "RS256"])
def test_only_hs256_is_accepted_never_alg_none(alg) -> None:
    if alg == "HS512":
        signed = jwt.encode(claims(), SECRET * 2, algorithm="HS512")
    else:
        signed = _unsigned(claims(role="admin"), {"alg": alg, "typ": "JWT"})
    refusal(signed)


@pytest.mark.parametrize("garbage", ["", "not.a.jwt", "a.b", "Bearer x", "é.é.é"])
def test_garbage_is_refused_not_crashed_on(garbage) -> None:
    refusal(garbage)


def test_a_secret_shorter_than_32_bytes_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="HUYING_TOKEN_SECRET") as refused:
        ServiceSettings(token_secret=SecretStr("s" * 31))
    assert "s" * 31 not in str(refused.value)  # the refused value is never repeated
    assert ServiceSettings(token_secret=SecretStr("密" * 11)).token_secret  # 33 bytes in UTF-8


def test_the_secret_may_come_from_a_file_without_its_trailing_newline(tmp_path, monkeypatch) -> None:
    secret_file = tmp_path / "token_secret"
    secret_file.write_text(SECRET + "\n")
    monkeypatch.setenv("HUYING_TOKEN_SECRET_FILE", str(secret_file))
    assert ServiceSettings().token_secret.get_secret_value() == SECRET
    monkeypatch.setenv("HUYING_TOKEN_SECRET", SECRET)
    with pytest.raises(ValidationError, match="not both"):
        ServiceSettings()


@pytest.mark.parametrize("content", [None, "", "short\n"])
def test_a_missing_empty_or_short_secret_file_is_refused_naming_the_variable(tmp_path, content) -> None:
    secret_file = tmp_path / "token_secret"
    if content is not None:
        secret_file.write_text(content)
    with pytest.raises(ValidationError, match="HUYING_TOKEN_SECRET_FILE"):
        ServiceSettings(token_secret_file=secret_file)


def test_without_a_secret_nothing_is_signed_or_verified_outside_development() -> None:
    production = ServiceSettings()
    assert production.env == "production" and production.token_secret is None
    with pytest.raises(MissingSecret, match="HUYING_TOKEN_SECRET"):
        mint(production, sub="x", role="admin", now=NOW, ttl=HOUR)
    signed = jwt.encode(claims(role="admin"), DEVELOPMENT_SECRET, algorithm="HS256")
    with pytest.raises(MissingSecret):
        verify(production, signed, now=NOW)
    assert verify(ServiceSettings(env="development"), signed, now=NOW).role == Role.ADMIN


def test_a_development_token_is_refused_where_a_real_secret_is_set() -> None:
    signed = mint(ServiceSettings(env="development"), sub="x", role="admin", now=NOW, ttl=HOUR)
    assert "signature" in refusal(signed, env="development")


def test_the_cli_mints_with_the_configured_secret(monkeypatch, capsys) -> None:
    monkeypatch.setenv("HUYING_TOKEN_SECRET", SECRET)
    argv = ["--sub", "sup-gd-01", "--role", "supervisor", "--team", "gd-duty-supervisors", "--team", "gd-noc"]
    assert token.main(argv) == 0
    printed = capsys.readouterr().out.strip()
    principal = verify(settings(), printed, now=datetime.now(UTC))
    assert (principal.sub, principal.role, principal.teams) == (
        "sup-gd-01",
        "supervisor",
        ["gd-duty-supervisors", "gd-noc"],
    )


def test_the_cli_refuses_in_one_line_without_a_secret(monkeypatch, capsys) -> None:
    for name in ("HUYING_TOKEN_SECRET", "HUYING_TOKEN_SECRET_FILE", "HUYING_ENV"):
        monkeypatch.delenv(name, raising=False)
    assert token.main(["--sub", "x", "--role", "admin"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "HUYING_TOKEN_SECRET" in err
    monkeypatch.setenv("HUYING_TOKEN_SECRET", "short")
    assert token.main(["--sub", "x", "--role", "admin"]) == 2
    assert "32 bytes" in capsys.readouterr().err
