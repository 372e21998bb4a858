"""`python -m huying.topics apply` on the real broker: it creates every declared topic with its settings, a second
run changes nothing, a drifted setting is put back, and the broker itself creates no topic."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

from huying.topic_admin import PROFILES, apply, read_cluster
from huying.topics import Topics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def run_apply(bootstrap: str, prefix: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "huying.topics", "apply", "--prefix", prefix, "--bootstrap", bootstrap],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_apply_creates_every_declared_topic_and_a_second_run_changes_nothing(infra) -> None:
    prefix = f"a{uuid.uuid4().hex[:10]}."
    first = run_apply(infra.kafka_bootstrap, prefix)
    assert first.count("create ") == 12 and first.strip().endswith("12 changed")
    assert run_apply(infra.kafka_bootstrap, prefix).strip().endswith("nothing changed")

    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        topics = Topics(prefix)
        have = await read_cluster(admin, [topics.crm.name, topics.tickets.name, topics.tickets.dlq])
        crm, tickets, dlq = have[topics.crm.name], have[topics.tickets.name], have[topics.tickets.dlq]
        assert (crm.configs["cleanup.policy"], crm.configs["retention.ms"]) == ("compact", "-1")
        assert (tickets.configs["cleanup.policy"], tickets.configs["retention.ms"]) == ("delete", str(800 * 86_400_000))
        assert tickets.configs["retention.bytes"] == "-1" and tickets.partitions == 3
        assert dlq.configs["retention.ms"] == str(30 * 86_400_000)

        # someone changes a topic by hand: apply puts the declared value back, and only that
        drift = {"cleanup.policy": "delete", "retention.ms": "3600000", "retention.bytes": "-1"}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topics.crm.name, drift)])
        actions = await apply(infra.kafka_bootstrap, topics, PROFILES["local"])
        assert [(a.kind, a.topic) for a in actions] == [("configure", topics.crm.name)]
        assert (await read_cluster(admin, [topics.crm.name]))[topics.crm.name].configs["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_the_broker_creates_no_topic_by_itself(infra) -> None:
    if infra.kind != "local":
        pytest.skip("the project's local broker is configured without auto-creation; another may differ")
    undeclared = f"u{uuid.uuid4().hex[:10]}.huying.tickets.v1"
    with pytest.raises((KafkaTimeoutError, UnknownTopicOrPartitionError)):
        await produce_within(infra.kafka_bootstrap, undeclared)


async def produce_within(bootstrap: str, topic: str) -> None:
    """Produce one record, giving up after 3 s (aiokafka waits for the topic's metadata, which never comes)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000, metadata_max_age_ms=500)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"x", key=b"k")
    finally:
        await producer.stop()
