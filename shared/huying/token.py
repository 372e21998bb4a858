"""Operator tokens: HS256-signed JWTs (sub, role, teams, name, iss, aud, iat, exp), one secret for every service.

`python -m huying.token --sub op-gz-01 --role agent --team gz-access-ops` mints one with the configured secret
(HUYING_TOKEN_SECRET or HUYING_TOKEN_SECRET_FILE; the development secret with HUYING_ENV=development) and prints it.
A deployment mints tokens in its identity provider with the same claims and secret.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pydantic import ValidationError

from huying.access import Principal, Role
from huying.settings import ServiceSettings, load_settings

log = logging.getLogger("huying.token")

ALGORITHM = "HS256"
CLAIMS = ("sub", "role", "iss", "aud", "iat", "exp")  # required; `teams` and `name` are optional
IAT_LEEWAY = timedelta(seconds=60)  # an identity provider's clock a little ahead of ours is not a forgery
# Signs tokens only with HUYING_ENV=development (`make run`): it is public, so anyone can mint with it.
DEVELOPMENT_SECRET = "huying-development-only-secret-anyone-can-mint-with-this"


class MissingSecret(RuntimeError):
    """No token secret outside development mode: the service must not start."""


class InvalidToken(ValueError):
    """Forged, expired, for another issuer or audience, or malformed; the message says which, for the 401."""


def signing_secret(settings: ServiceSettings) -> str:
    """The configured token secret; the development secret only with HUYING_ENV=development."""
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value()
    if settings.env == "development":
        return DEVELOPMENT_SECRET
    raise MissingSecret(
        "no operator token secret: set HUYING_TOKEN_SECRET or HUYING_TOKEN_SECRET_FILE "
        "(HUYING_ENV=development allows a built-in one, for a laptop only)"
    )


def check_credentials(settings: ServiceSettings, service: str) -> None:
    """At start-up: MissingSecret without a token secret, unless in development mode, which is warned about."""
    signing_secret(settings)
    if settings.token_secret is None:
        log.warning(
            "%s: HUYING_ENV=development: operator tokens are signed with the PUBLIC development secret, so anyone "
            "can mint an admin token. Never run like this outside a laptop: set HUYING_TOKEN_SECRET.",
            service,
        )


def mint(
    settings: ServiceSettings,
    *,
    sub: str,
    role: Role | str,
    teams: Iterable[str] = (),
    now: datetime,
    ttl: timedelta,
    name: str = "",
) -> str:
    """A signed token for one operator, valid from `now` for `ttl`."""
    claims: dict[str, Any] = {
        "sub": sub,
        "role": str(Role(role)),
        "teams": list(teams),
        "name": name,
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, signing_secret(settings), algorithm=ALGORITHM)


def verify(settings: ServiceSettings, token: str, *, now: datetime) -> Principal:
    """The operator a token names, its times checked against the service's clock `now`; InvalidToken otherwise."""
    try:
        claims = jwt.decode(
            token,
            signing_secret(settings),
            algorithms=[ALGORITHM],  # only HS256: `none` and public-key algorithms are refused
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            # times are checked below against the service's injected clock, not the library's wall clock
            options={"require": list(CLAIMS), "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidSignatureError:
        raise InvalidToken("the token's signature does not verify") from None
    except jwt.MissingRequiredClaimError as error:
        raise InvalidToken(f"the token has no {error.claim!r} claim") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken(f"the token is not for the audience {settings.token_audience!r}") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken(f"the token is not from the issuer {settings.token_issuer!r}") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidToken(f"the token is not signed with {ALGORITHM}") from None
    except jwt.PyJWTError as error:
        raise InvalidToken(f"not a valid token: {str(error).splitlines()[0]}") from None
    return _principal(claims, now)


def _principal(claims: dict[str, Any], now: datetime) -> Principal:
    exp, iat = claims["exp"], claims["iat"]
    if not _is_time(exp) or not _is_time(iat):
        raise InvalidToken("the token's exp and iat must be numeric times")
    if exp <= now.timestamp():
        raise InvalidToken("the token has expired")
    if iat > (now + IAT_LEEWAY).timestamp():
        raise InvalidToken("the token was issued in the future")
    try:
        teams, name = claims.get("teams") or [], claims.get("name") or ""
        return Principal(sub=claims["sub"], role=claims["role"], teams=teams, name=name)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        raise InvalidToken(f"the token's {problem['loc'][0]!r} claim is wrong: {problem['msg']}") from None


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m huying.token", description="Mint an operator token.")
    parser.add_argument("--sub", required=True, help="operator id, e.g. op-gz-01")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--team", action="append", default=[], help="team id (repeat for several)")
    parser.add_argument("--name", default="", help="display name")
    parser.add_argument("--ttl-hours", type=float, default=12.0, help="validity (default 12 h, one duty shift)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(ServiceSettings)
        token = mint(settings, sub=args.sub, role=args.role, teams=args.team, name=args.name,
                     now=datetime.now(UTC), ttl=timedelta(hours=args.ttl_hours))  # fmt: skip
    except (MissingSecret, ValidationError) as error:
        print(f"huying.token: {_first_line(error)}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return error.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
