"""Operator tokens: HS256-signed JWTs carrying the operator id, role and teams; verified on every request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt
from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from dispatch.domain.access import Principal, Role
from dispatch.settings import DispatchSettings

ALGORITHM = "HS256"
_bearer = HTTPBearer(auto_error=False, description="An operator token from `python -m dispatch.token`.")


def mint(
    settings: DispatchSettings,
    *,
    sub: str,
    role: Role | str,
    teams: list[str],
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
    return jwt.encode(claims, settings.token_secret.get_secret_value(), algorithm=ALGORITHM)


def verify(settings: DispatchSettings, token: str, *, now: datetime) -> Principal:
    """The operator a token names; ValueError if it is forged, expired, for someone else, or malformed."""
    try:
        claims = jwt.decode(
            token,
            settings.token_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            # expiry is checked below against the service's injected clock, not the library's wall clock
            options={"require": ["sub", "exp", "iss", "aud"], "verify_exp": False, "verify_iat": False},
        )
        if not isinstance(claims["exp"], int | float) or claims["exp"] <= now.timestamp():
            raise jwt.ExpiredSignatureError("Signature has expired")
        teams, name = claims.get("teams") or [], claims.get("name") or ""
        return Principal(sub=claims["sub"], role=claims.get("role"), teams=teams, name=name)
    except (jwt.PyJWTError, ValidationError) as error:
        raise ValueError(str(error).splitlines()[0]) from error


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated operator, or 401."""
    credentials: HTTPAuthorizationCredentials | None = await _bearer(request)
    if credentials is None:
        raise HTTPException(
            401,
            {"error": "unauthenticated", "reason": "a Bearer token is required"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        runtime = request.app.state.runtime
        return verify(runtime.settings, credentials.credentials, now=runtime.clock.now())
    except ValueError as error:
        raise HTTPException(
            401, {"error": "unauthenticated", "reason": str(error)}, headers={"WWW-Authenticate": "Bearer"}
        ) from error
