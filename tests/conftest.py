"""Fixtures that choose real infrastructure, in this order: explicit environment (HUYING_KAFKA_BOOTSTRAP and
HUYING_MONGODB_URI) → testcontainers when a Docker engine answers → the project's local Kafka and SecantusDB
processes (deploy/local/infra.py). Every test gets its own topic prefix and database names."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from tests.support.auth import TOKEN_SECRET

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))


@dataclass
class Infra:
    kafka_bootstrap: str
    mongodb_uri: str
    kind: str  # "env", "testcontainers" or "local"
    local: ModuleType | None = None  # the local process controller, when tests may stop and restart it


def _docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    bootstrap, uri = os.environ.get("HUYING_KAFKA_BOOTSTRAP"), os.environ.get("HUYING_MONGODB_URI")
    if bootstrap and uri:
        yield Infra(bootstrap, uri, "env")
    elif _docker_engine_answers():
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.community.mongodb import MongoDbContainer

        with KafkaContainer().with_kraft() as kafka, MongoDbContainer("mongo:8.0") as mongo:
            yield Infra(kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers")
    else:
        import infra as local

        # Started if needed and left running, like `make infra-start`: another test session or a `make run` may be
        # using it, so a session never stops it (`make infra-stop` does; .ci/run does at its end).
        local.start_all()
        env = local.env()
        yield Infra(env["HUYING_KAFKA_BOOTSTRAP"], env["HUYING_MONGODB_URI"], "local", local)


@dataclass
class Names:
    """Unique names for one test: topic prefix and database-name prefix."""

    token: str

    @property
    def topic_prefix(self) -> str:
        return f"t{self.token}."

    def database(self, service: str) -> str:
        return f"t{self.token}_{service.replace('-', '_')}"


@pytest.fixture
def names() -> Names:
    return Names(uuid.uuid4().hex[:10])


@pytest.fixture
async def mongo(infra: Infra) -> AsyncIterator[AsyncMongoClient]:
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri, tz_aware=True, uuidRepresentation="standard")
    yield client
    await client.close()


@pytest.fixture(autouse=True)
def _declared_topics(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test on real infrastructure with its own names finds its topics declared, as a deployment would; they are
    deleted afterwards (with any it made itself), so a long-lived local broker does not pile up thousands of them —
    a broker with ~15,000 topics took over two minutes to start."""
    if "infra" not in request.fixturenames or "names" not in request.fixturenames:
        yield
        return
    from tests.support.kafka import declare_topics, delete_topics

    infra, names = request.getfixturevalue("infra"), request.getfixturevalue("names")
    asyncio.run(declare_topics(infra.kafka_bootstrap, names.topic_prefix))
    yield
    asyncio.run(delete_topics(infra.kafka_bootstrap, names.topic_prefix))


@pytest.fixture
async def settings_for(infra: Infra, names: Names, mongo: AsyncMongoClient) -> AsyncIterator[Any]:
    """Build a service's settings pointed at the test infrastructure and this test's names, signing operator tokens
    with the test secret (tests.support.auth; not development mode); drops the test's databases afterwards."""
    made: list[Any] = []

    def make(cls: type, **overrides: Any) -> Any:
        service = cls.model_fields["service_name"].default
        values = {
            "kafka_bootstrap": infra.kafka_bootstrap,
            "mongodb_uri": infra.mongodb_uri,
            "topic_prefix": names.topic_prefix,
            "mongodb_database": names.database(service),
            "outbox_poll_seconds": 0.2,
            "token_secret": SecretStr(TOKEN_SECRET),
            **overrides,
        }
        if "demo_users" in cls.model_fields:
            values.setdefault("demo_users", True)  # reporting: tests sign in as make run's demo users
        settings = cls(**values)
        made.append(settings)
        return settings

    yield make
    for settings in made:
        await mongo.drop_database(settings.database_name)


TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test carries exactly one tier marker, so `make test-unit` and the other tiers run everything between
    them: a test without one would run only in `make test`."""
    wrong = [item.nodeid for item in items if sum(1 for t in TIERS if item.get_closest_marker(t)) != 1]
    if wrong:
        raise pytest.UsageError(f"tests without exactly one of the markers {TIERS}: {', '.join(wrong[:20])}")
