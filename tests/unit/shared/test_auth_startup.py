"""No built-in secret: every service refuses to start without a token secret unless HUYING_ENV=development, and
every route but health and metrics declares how it is authenticated and how it refuses."""

from __future__ import annotations

import importlib
import logging

import pytest
from pydantic import SecretStr

import huying.logging
from huying.docs import SERVICES
from huying.service import serve
from huying.token import MissingSecret

pytestmark = pytest.mark.unit
SECRET = SecretStr("a-test-secret-of-at-least-32-bytes!")
UNGUARDED = {"/healthz", "/readyz", "/metrics"}


def spec_of(service: str):
    return importlib.import_module(f"{SERVICES[service]}.app").SPEC


@pytest.fixture(autouse=True)
def _no_secret_in_the_environment(monkeypatch) -> None:
    for name in ("HUYING_TOKEN_SECRET", "HUYING_TOKEN_SECRET_FILE", "HUYING_ENV"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_refuses_to_start_without_a_token_secret_in_production(service) -> None:
    spec = spec_of(service)
    with pytest.raises(MissingSecret, match="HUYING_TOKEN_SECRET"):
        importlib.import_module(f"{SERVICES[service]}.app").create(spec.settings())


def test_the_refusal_is_one_line_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setattr(huying.logging, "configure_logging", lambda *a, **kw: None)
    spec = spec_of("notify")
    with pytest.raises(SystemExit) as stopped:
        serve(spec, spec.settings())
    message = str(stopped.value.code)
    assert message.startswith("notify: no operator token secret") and "HUYING_TOKEN_SECRET" in message
    assert "\n" not in message


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_development_mode_starts_without_a_secret_and_says_so_loudly(service, caplog) -> None:
    spec = spec_of(service)
    with caplog.at_level(logging.WARNING, logger="huying.token"):
        importlib.import_module(f"{SERVICES[service]}.app").create(spec.settings(env="development"))
    assert any("development secret" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_development_mode_comes_only_from_huying_env(monkeypatch) -> None:
    spec = spec_of("reporting")
    monkeypatch.setenv("HUYING_ENV", "development")
    assert spec.settings().env == "development"
    monkeypatch.setenv("HUYING_ENV", "dev")
    with pytest.raises(ValueError, match="development"):
        spec.settings()


def test_with_a_secret_there_is_no_warning(caplog) -> None:
    spec = spec_of("dispatch")
    with caplog.at_level(logging.WARNING, logger="huying.token"):
        importlib.import_module("dispatch.app").create(spec.settings(token_secret=SECRET, env="development"))
    assert not [r for r in caplog.records if r.name == "huying.token"]


def routes(service: str) -> list[tuple[str, str, dict]]:
    app = importlib.import_module(f"{SERVICES[service]}.app").create(spec_of(service).settings(token_secret=SECRET))
    document = app.openapi()
    return [(p, m, op) for p, ops in document["paths"].items() for m, op in ops.items() if p not in UNGUARDED]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_route_declares_its_security_scheme_and_its_refusals(service) -> None:
    for path, method, operation in routes(service):
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        assert schemes, f"{service} {method} {path} declares no security scheme"
        assert "401" in operation["responses"], f"{service} {method} {path}"
        if schemes & {"operatorToken", "operatorSession"}:
            assert "403" in operation["responses"], f"{service} {method} {path}"


def test_every_service_guards_its_routes() -> None:
    guarded = {service: {f"{m.upper()} {p}" for p, m, _ in routes(service)} for service in SERVICES}
    assert {"GET /v1/notifications", "POST /v1/delivery-reports/{channel}"} <= guarded["notify"]
    assert {"GET /v1/tickets/{ticket_id}/sla", "GET /v1/timers"} <= guarded["sla-watch"]
    assert {"GET /v1/summary", "GET /v1/kpis", "GET /v1/kpis.csv"} <= guarded["reporting"]
    assert {"POST /v1/reports", "GET /v1/reports/{external_id}"} <= guarded["intake"]
    assert "GET /v1/tickets" in guarded["dispatch"] and len(guarded["dispatch"]) > 10
