"""Every service's HTTP API, fuzzed from its own OpenAPI document by schemathesis, with valid credentials, against the
real broker and database: no request gets a 5xx, and every 4xx says what was wrong.

Each service runs under uvicorn on a loopback port (a real HTTP server, in a thread with its own event loop), with
an admin's token (or a source system's API key) on every request, so the requests reach past authentication into
validation and the handlers.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from pymongo import MongoClient
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from dispatch.app import create as create_dispatch
from dispatch.settings import DispatchSettings
from intake.app import create as create_intake
from intake.settings import IntakeSettings
from reporting.app import create as create_reporting
from reporting.settings import ReportingSettings
from sla_watch.app import create as create_sla_watch
from sla_watch.settings import SlaWatchSettings
from tests.e2e.test_run import free_port
from tests.support.auth import ADMIN, TOKEN_SECRET, bearer
from tests.support.kafka import declare_topics, produce
from tests.unit.dispatch.builders import opened

pytestmark = pytest.mark.integration

API_KEY = "fuzz-api-key-0123456789"
EXAMPLES = 30  # per operation: enough to reach every validation branch of these small APIs, in seconds


@dataclass
class Served:
    name: str
    base_url: str
    headers: dict[str, str]
    settings: Any
    ticket_ids: list[str] = field(default_factory=list)  # existing tickets, so actions reach past "not found"


class Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a thread of the test process: the test runner keeps the signals
        pass


def serve(name: str, create: Any, settings: Any) -> Iterator[Served]:
    port = free_port()
    server = Server(uvicorn.Config(create(settings), host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name=f"fuzz-{name}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"{name} did not start"
        time.sleep(0.05)
    if name == "intake":
        headers = {"X-API-Key": API_KEY}
    else:
        headers = bearer(settings, ADMIN, now=datetime.now(UTC), ttl=timedelta(hours=2))
    try:
        yield Served(name, base, headers, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def settings_of(cls: type, infra: Any, prefix: str, **extra: Any) -> Any:
    service = cls.model_fields["service_name"].default
    return cls(
        kafka_bootstrap=infra.kafka_bootstrap,
        mongodb_uri=infra.mongodb_uri,
        topic_prefix=prefix,
        mongodb_database=f"{prefix.rstrip('.')}_{service.replace('-', '_')}",
        token_secret=TOKEN_SECRET,
        outbox_poll_seconds=0.2,
        **extra,
    )


@pytest.fixture(scope="module")
def prefix(infra) -> Iterator[str]:
    token = f"f{uuid.uuid4().hex[:10]}."
    asyncio.run(declare_topics(infra.kafka_bootstrap, token))
    yield token
    with MongoClient(infra.mongodb_uri) as client:
        for name in client.list_database_names():
            if name.startswith(token.rstrip(".")):
                client.drop_database(name)


@pytest.fixture(scope="module")
def intake_api(infra, prefix) -> Iterator[Served]:
    keys = {"10086-cc": API_KEY}
    settings = settings_of(IntakeSettings, infra, prefix, api_keys=keys, rate_limit_per_second=10_000)
    yield from serve("intake", create_intake, settings)


@pytest.fixture(scope="module")
def dispatch_api(infra, prefix) -> Iterator[Served]:
    settings = settings_of(DispatchSettings, infra, prefix)
    for served in serve("dispatch", create_dispatch, settings):
        served.ticket_ids = seed_tickets(infra, settings, count=4)
        yield served


def seed_tickets(infra: Any, settings: DispatchSettings, *, count: int) -> list[str]:
    """Open tickets through the topic dispatch consumes and wait until it holds them."""
    ids = [f"T-FUZZ-{n}" for n in range(count)]
    recent = datetime.now(UTC) - timedelta(minutes=5)
    events = [opened(t, reported_at=recent, occurred_at=recent) for t in ids]
    asyncio.run(produce(infra.kafka_bootstrap, f"{settings.topic_prefix}huying.tickets.v1", *events))
    with MongoClient(infra.mongodb_uri) as client:
        tickets = client[settings.database_name].tickets
        deadline = time.monotonic() + 60
        while tickets.count_documents({"_id": {"$in": ids}}) < count:
            assert time.monotonic() < deadline, "dispatch never opened the seeded tickets"
            time.sleep(0.1)
    return ids


@pytest.fixture(scope="module")
def sla_watch_api(infra, prefix) -> Iterator[Served]:
    yield from serve("sla-watch", create_sla_watch, settings_of(SlaWatchSettings, infra, prefix))


@pytest.fixture(scope="module")
def reporting_api(infra, prefix) -> Iterator[Served]:
    yield from serve("reporting", create_reporting, settings_of(ReportingSettings, infra, prefix))


def operations(served: Served) -> list[Any]:
    """Every operation of the service's own OpenAPI document, as it serves it."""
    document = httpx.get(f"{served.base_url}/openapi.json", timeout=10).json()
    found = [result.ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()]
    return [op for op in found if op.path not in ("/healthz", "/readyz", "/metrics")]  # no identity, no input


def explains_itself(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx carries a JSON body whose `detail` says what was wrong (a message, a list of field problems each with
    its reason, or an error with its reason) — never an empty or bare status."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = response.json()
    except ValueError as error:
        raise AssertionError(f"{response.status_code} without a JSON explanation: {response.text[:200]!r}") from error
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        assert detail.strip(), "an empty explanation"
    elif isinstance(detail, list):
        assert detail and all(isinstance(d, dict) and (d.get("reason") or d.get("msg")) for d in detail), detail
    elif isinstance(detail, dict):
        assert detail.get("reason") or detail.get("error"), detail
    else:
        raise AssertionError(f"{response.status_code} whose body explains nothing: {body!r}")
    return None


def fuzz(served: Served) -> Counter[int]:
    """Generated requests, valid and invalid by the schema, for every operation; returns the statuses answered."""
    statuses: Counter[int] = Counter()
    ops = operations(served)
    assert ops, f"{served.name} documents no operation"
    for operation in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode))
            def one(case: Any) -> None:
                if served.ticket_ids and "ticket_id" in (case.path_parameters or {}) and statuses.total() % 2:
                    case.path_parameters["ticket_id"] = served.ticket_ids[statuses.total() % len(served.ticket_ids)]
                response = case.call(base_url=served.base_url, headers=served.headers, timeout=30)
                statuses[response.status_code] += 1
                case.validate_response(response, checks=[not_a_server_error, explains_itself])

            one()
    return statuses


FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("service", ["intake", "dispatch", "sla_watch", "reporting"])
def test_every_generated_request_gets_an_answer_and_no_server_error(service, request) -> None:
    served = request.getfixturevalue(f"{service}_api")
    statuses = fuzz(served)
    print(served.name, dict(sorted(statuses.items())))
    assert sum(statuses.values()) >= len(operations(served)) * 2
    passed = sum(n for status, n in statuses.items() if status not in (401, 403))
    assert passed > sum(statuses.values()) / 2, f"the credentials did not get the requests in: {statuses}"
