"""intake as its own process, as a hotline system meets it: the documented example over real HTTP, with an API
key from the environment, becomes one TicketOpened on Kafka; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pymongo import MongoClient

from tests.e2e.test_run import free_port
from tests.integration.intake.conftest import read_all
from tests.support.auth import TOKEN_SECRET

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def post(url: str, body: bytes, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", "X-API-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_intake_process_turns_the_documented_example_into_a_ticket_on_kafka(infra, names, tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HUYING_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "HUYING_MONGODB_URI": infra.mongodb_uri,
        "HUYING_TOPIC_PREFIX": names.topic_prefix,
        "HUYING_INTAKE_MONGODB_DATABASE": names.database("intake"),
        "HUYING_INTAKE_HTTP_PORT": str(port),
        "HUYING_INTAKE_API_KEYS": '{"10086-cc": "e2e-secret"}',
        "HUYING_TOKEN_SECRET": TOKEN_SECRET,
    }
    log = (tmp_path / "intake.log").open("wb")  # a file, not a pipe nobody reads: a full pipe would block it
    proc = subprocess.Popen([sys.executable, "-m", "intake"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1/reports"
    body = (ROOT / "services/intake/examples/hotline-report.json").read_bytes()
    try:
        for _ in range(150):
            try:
                status, result = post(url, body, "e2e-secret")
                break
            except urllib.error.URLError:
                assert proc.poll() is None, (tmp_path / "intake.log").read_text()
                asyncio.run(asyncio.sleep(0.2))
        assert status == 201, result
        assert (result["status"], result["verified"]) == ("opened", False)  # no CRM data in this database
        assert post(url, body, "wrong")[0] == 401
        assert post(url, body, "e2e-secret")[1]["duplicate"] is True

        async def ticket_events():
            for _ in range(100):
                events = await read_all(infra.kafka_bootstrap, f"{names.topic_prefix}huying.tickets.v1")
                if events:
                    return events
                await asyncio.sleep(0.2)
            return []

        [opened] = asyncio.run(ticket_events())
        assert (opened.type, opened.ticket_id, opened.external_id) == (
            "TicketOpened",
            result["ticket_id"],
            "CC20260302-000123",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
        output = (tmp_path / "intake.log").read_text(errors="replace")
        with MongoClient(infra.mongodb_uri) as client:
            client.drop_database(names.database("intake"))
    # uvicorn shuts down gracefully, then re-raises the signal it caught: exit by SIGTERM is the clean way out
    assert proc.returncode in (0, -signal.SIGTERM), f"exit {proc.returncode}: {output[-1500:]}"
    assert "Application shutdown complete" in output and "intake stopped" in output
