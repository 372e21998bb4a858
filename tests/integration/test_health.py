"""Health, readiness and metrics of a running service, against the real broker and database."""

from __future__ import annotations

import socket
from contextlib import asynccontextmanager

import httpx
import pytest

from huying.events import CustomerUpserted
from intake.app import create
from intake.settings import IntakeSettings
from tests.support.kafka import produce, wait_until

pytestmark = pytest.mark.integration


@asynccontextmanager
async def serving(settings):
    app = create(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield app.state.runtime, http


async def readiness(http: httpx.AsyncClient) -> tuple[int, dict]:
    response = await http.get("/readyz", timeout=10)
    return response.status_code, response.json()


async def test_health_and_metrics_report_consumed_messages(infra, settings_for) -> None:
    settings = settings_for(IntakeSettings)
    async with serving(settings) as (runtime, http):
        assert (await http.get("/healthz")).json() == {"status": "ok", "service": "intake"}
        await wait_until(lambda: _ready(http), timeout=30, interval=0.5)
        assert await readiness(http) == (
            200,
            {"ready": True, "checks": {"kafka": True, "database": True, "crm_caught_up": True}},
        )
        await produce(
            infra.kafka_bootstrap,
            f"{settings.topic_prefix}huying.crm.v1",
            CustomerUpserted(customer_id="C-9", name="x", tier="gold", city="广州"),
        )
        await wait_until(lambda: runtime.db.customers.find_one({"_id": "C-9"}))
        metrics = await wait_until(lambda: _metrics_after_consumption(http))
        assert 'app_name="intake"' in metrics


async def _metrics_after_consumption(http: httpx.AsyncClient) -> str | None:
    text = (await http.get("/metrics")).text
    return text if "huying_received_messages_total{" in text else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_infra(infra, tmp_path, monkeypatch):
    """A Kafka and a SecantusDB of this test's own (other ports, own data; the shared cache), so stopping them
    disturbs no other test and no `make run` on the same machine."""
    if infra.local is None:
        pytest.skip(f"infrastructure is {infra.kind}: only the local processes can be stopped by the test")
    for name in ("HUYING_KAFKA_PORT", "HUYING_KAFKA_CONTROLLER_PORT", "HUYING_MONGODB_PORT"):
        monkeypatch.setenv(name, str(free_port()))
    monkeypatch.setenv("HUYING_INFRA_STATE_DIR", str(tmp_path / "infra"))
    infra.local.start_all()
    yield infra.local
    infra.local.stop_all()


async def test_readiness_goes_false_when_a_dependency_stops_and_true_after_restart(private_infra, settings_for) -> None:
    local = private_infra
    env = local.env()
    settings = settings_for(
        IntakeSettings, kafka_bootstrap=env["HUYING_KAFKA_BOOTSTRAP"], mongodb_uri=env["HUYING_MONGODB_URI"]
    )
    async with serving(settings) as (_, http):
        await wait_until(lambda: _ready(http), timeout=30, interval=0.5)
        for stop, start, check in (
            (local.stop_secantus, local.start_secantus, "database"),
            (local.stop_kafka, local.start_kafka, "kafka"),
        ):
            stop()
            try:
                status, body = await wait_until(lambda: _unready(http), timeout=30)
                assert status == 503 and body["checks"][check] is False
            finally:
                start()
            await wait_until(lambda: _ready(http), timeout=60, interval=0.5)


async def _unready(http: httpx.AsyncClient) -> tuple[int, dict] | None:
    status, body = await readiness(http)
    return (status, body) if status == 503 else None


async def _ready(http: httpx.AsyncClient) -> bool:
    return (await readiness(http))[0] == 200
