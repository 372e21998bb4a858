"""Identity and access for every service's HTTP routes (all but /healthz, /readyz and /metrics): FastAPI
dependencies that give the authenticated operator or source system, or refuse.

Operators send a signed token (`huying.token`) as `Authorization: Bearer`, or, on the dashboard's reads, as the
HttpOnly cookie `huying_session`; source systems send their API key as `X-API-Key`. What a role may do is the table
in `huying.access`, the same for every service. A missing or bad credential is 401, a role that may not is 403,
both with `{"error": "unauthenticated" | "forbidden", "reason": ...}` under `detail`, like every other error.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, SecretStr

from huying.access import Permission, Principal, Role, allowed, roles_with
from huying.token import InvalidToken, verify

SESSION_COOKIE = "huying_session"

_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="operatorToken",
    bearerFormat="JWT",
    description="An operator token (`python -m huying.token --sub … --role …`).",
)
_COOKIE = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="operatorSession",
    description="The dashboard's HttpOnly session cookie, holding an operator token (GET routes of the dashboard).",
)
_API_KEY = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="sourceSystemKey", description="The source system's API key."
)


class AuthProblem(BaseModel):
    error: Literal["unauthenticated", "forbidden"]
    reason: str = Field(examples=["the token has expired"])


class AuthRefusal(BaseModel):
    """401: no or bad credential; 403: this role or team may not."""

    detail: AuthProblem


UNAUTHENTICATED = {401: {"model": AuthRefusal, "description": "No credential, or a bad one (the reason says which)."}}
FORBIDDEN = {403: {"model": AuthRefusal, "description": "Authenticated, but this role or team may not."}}
OPERATOR_RESPONSES: dict[int | str, dict[str, Any]] = {**UNAUTHENTICATED, **FORBIDDEN}


def unauthenticated(reason: str, scheme: str = "Bearer") -> HTTPException:
    return HTTPException(401, {"error": "unauthenticated", "reason": reason}, headers={"WWW-Authenticate": scheme})


def forbidden(reason: str) -> HTTPException:
    return HTTPException(403, {"error": "forbidden", "reason": reason})


def _authenticate(request: Request, token: str | None, missing: str) -> Principal:
    if not token:
        raise unauthenticated(missing)
    runtime = request.app.state.runtime
    try:
        return verify(runtime.settings, token, now=runtime.clock.now())
    except InvalidToken as error:
        raise unauthenticated(str(error)) from None


async def _from_bearer(credentials: HTTPAuthorizationCredentials | None = Security(_BEARER)) -> str | None:
    return credentials.credentials if credentials else None


async def _from_bearer_or_cookie(
    credentials: HTTPAuthorizationCredentials | None = Security(_BEARER), cookie: str | None = Security(_COOKIE)
) -> str | None:
    return credentials.credentials if credentials else cookie


def operator(*roles: Role, cookie: bool = False, hint: str = "") -> Callable[..., Awaitable[Principal]]:
    """Dependency: the authenticated operator (401), of one of `roles` if any are given (403).

    `cookie=True` also takes the dashboard's session cookie; only for reads, since a browser sends a cookie along
    with any site's request, never a Bearer header (no cross-site request forgery of an action). `hint` is added
    to the 401 for a request without a token, e.g. where a person finds one."""
    source = _from_bearer_or_cookie if cookie else _from_bearer
    carriers = f"Authorization: Bearer, or the {SESSION_COOKIE} cookie" if cookie else "Authorization: Bearer"
    missing = f"an operator token ({carriers}) is required" + (f"; {hint}" if hint else "")

    async def dependency(request: Request, token: str | None = Security(source)) -> Principal:
        principal = _authenticate(request, token, missing)
        if roles and not principal.is_role(*roles):
            raise forbidden(f"this needs the role {_either(roles)}; the token's role is {principal.role}")
        return principal

    return dependency


def require(permission: Permission, *, cookie: bool = False, hint: str = "") -> Callable[..., Awaitable[Principal]]:
    """Dependency: an operator whose role has `permission` in PERMISSIONS (401, 403 otherwise)."""
    inner = operator(cookie=cookie, hint=hint)
    roles = roles_with(permission)

    async def dependency(principal: Principal = Security(inner)) -> Principal:
        if not allowed(principal, permission):
            raise forbidden(f"{permission} needs the role {_either(roles)}; the token's role is {principal.role}")
        return principal

    return dependency


def _either(roles: Iterable[Role]) -> str:
    names = [str(r) for r in roles]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def api_key(keys: Callable[[Any], Mapping[str, SecretStr]]) -> Callable[..., Awaitable[str]]:
    """Dependency: the source system whose `X-API-Key` this is (401 otherwise); `keys` reads {system: key} from the
    service's settings."""

    async def dependency(request: Request, key: str | None = Security(_API_KEY)) -> str:
        system = matching_system(keys(request.app.state.runtime.settings), key)
        if system is None:
            reason = "an API key (X-API-Key) is required" if not key else "unknown API key (X-API-Key)"
            raise unauthenticated(reason, scheme="ApiKey")
        return system

    return dependency


def matching_system(keys: Mapping[str, SecretStr], presented: str | None) -> str | None:
    """The system whose key was presented, comparing in constant time with every key (no early exit, so the time
    taken tells nothing about which key came close)."""
    if not presented:
        return None
    try:  # the header's own bytes (ASGI servers decode headers as Latin-1), compared with the key's UTF-8
        offered = presented.encode("latin-1")
    except UnicodeEncodeError:
        offered = presented.encode()
    found = None
    for system, key in keys.items():
        if secrets.compare_digest(key.get_secret_value().encode(), offered) and found is None:
            found = system
    return found
