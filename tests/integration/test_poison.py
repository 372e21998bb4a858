"""Poison on every consumed topic of every service, over real Kafka and the real database: random bytes, truncated
JSON, JSON of the wrong types and a record near Kafka's size limit each become a dead letter with its reason (the
large one cut to fit, with its size and hash); nothing crashes, and a valid record behind them on the same
partition is processed. Each service runs once for the module (its own topics and database)."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from dispatch.app import create as create_dispatch
from dispatch.settings import DispatchSettings
from huying.dlq import DeadLetter
from huying.events import AlarmRaised, CustomerUpserted, Event, ReportReceived, SlaBreached
from huying.kafka import event_headers, serialize
from huying.rebuild import CONTEXT_KEY
from huying.replay import read_letters
from intake.app import create as create_intake
from intake.settings import IntakeSettings
from notify.app import create as create_notify
from notify.settings import NotifySettings
from reporting.app import create as create_reporting
from reporting.settings import ReportingSettings
from sla_watch.app import create as create_sla_watch
from sla_watch.settings import SlaWatchSettings
from tests.support.auth import TOKEN_SECRET
from tests.support.kafka import declare_topics, wait_until
from tests.unit.dispatch.builders import opened

pytestmark = pytest.mark.integration

SERVICES: dict[str, tuple[Callable[..., Any], type]] = {
    "intake": (create_intake, IntakeSettings),
    "dispatch": (create_dispatch, DispatchSettings),
    "sla-watch": (create_sla_watch, SlaWatchSettings),
    "notify": (create_notify, NotifySettings),
    "reporting": (create_reporting, ReportingSettings),
}
CONSUMED = [
    ("intake", "intake"),
    ("intake", "alarms"),
    ("intake", "crm"),
    ("dispatch", "tickets"),
    ("dispatch", "sla"),
    ("dispatch", "crm"),
    ("sla-watch", "tickets"),
    ("sla-watch", "crm"),
    ("notify", "crm"),
    ("reporting", "crm"),
]
OVERSIZE = 900_000  # under the broker's 1 MiB, but its letter (base64 grows it by 4/3) would not be


@dataclass
class Running:
    app: Any
    bootstrap: str

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    def topic(self, family: str) -> str:
        return getattr(self.runtime.topics, family).name

    def group(self, family: str) -> str:
        """The group consuming the topic: a read model's epoch group (huying.rebuild: the CRM replica's
        <group>.crm.<epoch>, sla-watch's tickets <group>.<epoch>), else the service's own."""
        topic = self.topic(family)
        for replica in self.runtime.broker.context.get(CONTEXT_KEY) or []:
            if topic in replica.model.topics:
                return replica.group
        return self.runtime.settings.group_id


@pytest.fixture(scope="module")
async def services(infra) -> AsyncIterator[dict[str, Running]]:
    """The five services, started once for the module, each under a topic prefix and database of its own."""
    token = uuid.uuid4().hex[:8]
    made: list[Any] = []
    async with AsyncExitStack() as stack:
        running: dict[str, Running] = {}
        for name, (create, settings_class) in SERVICES.items():
            await declare_topics(infra.kafka_bootstrap, f"p{token}{name.replace('-', '')}.")
            settings = settings_class(
                kafka_bootstrap=infra.kafka_bootstrap,
                mongodb_uri=infra.mongodb_uri,
                topic_prefix=f"p{token}{name.replace('-', '')}.",
                mongodb_database=f"p{token}_{name.replace('-', '_')}",
                outbox_poll_seconds=0.2,
                token_secret=SecretStr(TOKEN_SECRET),
            )
            made.append(settings)
            app = create(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            running[name] = Running(app, infra.kafka_bootstrap)
        try:
            yield running
        finally:
            client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_uri)
            for settings in made:
                await client.drop_database(settings.database_name)
            await client.close()


def valid(family: str, n: str) -> tuple[Event, Callable[[Running], Any]]:
    """A valid record for the topic, and a check that its effect is visible."""
    past = datetime.now(UTC) - timedelta(hours=1)
    if family == "intake":
        report = ReportReceived(
            channel="hotline", source_system="10086-cc", external_id=f"R-{n}", description="断", reported_at=past
        )
        return report, lambda s: s.runtime.db.outcomes.find_one({"_id": f"10086-cc:R-{n}"})
    if family == "alarms":
        alarm = AlarmRaised(
            alarm_id=f"A-{n}", service_line_id=f"L-{n}", resource="GZ-OLT-1/PON1", city="广州", severity="critical",
            raised_at=past,
        )  # fmt: skip
        return alarm, lambda s: s.runtime.db.outcomes.find_one({"_id": f"nms:A-{n}"})
    if family == "crm":
        customer = CustomerUpserted(customer_id=f"C-{n}", name="某银行", tier="gold", city="广州")
        return customer, lambda s: s.runtime.db.customers.find_one({"_id": f"C-{n}"})
    if family == "tickets":
        ticket = opened(f"T-{n}")
        collection = {"dispatch": "tickets", "sla-watch": "clocks"}
        return ticket, lambda s: s.runtime.db[collection[s.runtime.settings.service_name]].find_one({"_id": f"T-{n}"})
    breach = SlaBreached(ticket_id=f"T-{n}", clock="acceptance", subject="gz-access-ops", policy_version="2026.1",
                         deadline=past)  # fmt: skip
    return breach, _handled  # a breach of an unknown ticket decides nothing: only its offset shows it was handled


async def _handled(_: Running) -> bool:
    return True


def wrong_types(value: Any) -> Any:
    """A value of another JSON type than the one given."""
    if isinstance(value, bool | int | float):
        return "not a number"
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {"items": value}
    return 12345


def poison(event: Event) -> dict[str, bytes]:
    body = json.loads(serialize(event))
    wrong = {"type": body["type"], **{k: wrong_types(v) for k, v in body.items() if k != "type"}}
    return {
        "random bytes": random.Random(event.event_id.int).randbytes(300),
        "truncated JSON": serialize(event)[: len(serialize(event)) // 2],
        "wrong types": json.dumps(wrong).encode(),
        "oversize": json.dumps({**wrong, "padding": "x" * OVERSIZE}).encode(),
    }


async def send(bootstrap: str, topic: str, key: bytes | None, *values: bytes, headers=None) -> list[tuple[int, int]]:
    """Publish raw values under one key (one partition), in order; their (partition, offset)s."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = [await producer.send_and_wait(topic, value, key=key, headers=headers) for value in values]
    finally:
        await producer.stop()
    return [(m.partition, m.offset) for m in sent]


async def committed(bootstrap: str, group: str, partition: TopicPartition) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[partition])
    finally:
        await admin.close()
    found = offsets.get(partition)
    return found.offset if found else -1


async def letters_of(bootstrap: str, topic: str, group: str, at: set[tuple[int, int]]) -> dict[tuple, DeadLetter]:
    found = {}
    for _, _, value in await read_letters(bootstrap, f"{topic}.dlq"):
        letter = DeadLetter.model_validate_json(value)
        if letter.consumer == group and (letter.partition, letter.offset) in at:
            found[(letter.partition, letter.offset)] = letter
    return found


@pytest.mark.parametrize(("service", "family"), CONSUMED, ids=[f"{s}:{f}" for s, f in CONSUMED])
async def test_poison_is_dead_lettered_with_its_reason_and_the_record_behind_it_is_processed(
    services, service: str, family: str
) -> None:
    running = services[service]
    topic, group = running.topic(family), running.group(family)
    event, effect = valid(family, uuid.uuid4().hex[:8])
    bad = poison(event)
    key = event.partition_key()
    headers = [(k, v.encode()) for k, v in event_headers(event).items()]
    *at, last = await send(running.bootstrap, topic, key, *bad.values())
    [(partition, offset)] = await send(running.bootstrap, topic, key, serialize(event), headers=headers)
    places = dict(zip(bad, [*at, last], strict=True))

    assert await wait_until(lambda: effect(running), timeout=60)
    tp = TopicPartition(topic, partition)
    await wait_until(lambda: _passed(running.bootstrap, group, tp, offset), timeout=30)
    letters = await wait_until(
        lambda: _all(letters_of(running.bootstrap, topic, group, set(places.values())), len(places)), timeout=60
    )
    assert partition == last[0]  # the valid record came behind the poison, on the same partition
    for kind, place in places.items():
        letter = letters[place]
        assert letter.original_topic == topic and letter.error, kind
        assert letter.original_key() == key
        if kind == "oversize":
            assert set(letter.cut) - {"error"} == {"value"} and not letter.complete
            assert letter.value_size == len(bad[kind]) and letter.value_sha256 == hashlib.sha256(bad[kind]).hexdigest()
            assert bad[kind].startswith(letter.original_value())
        else:
            assert letter.complete and letter.original_value() == bad[kind], kind
    assert "ValidationError" in letters[places["wrong types"]].error


async def test_a_header_that_is_not_utf8_does_not_stop_a_record_or_its_batch(services) -> None:
    for service, family in [("intake", "intake"), ("notify", "crm")]:
        running = services[service]
        event, effect = valid(family, uuid.uuid4().hex[:8])
        headers = [("type", event.type.encode()), ("trace", b"\xff\xfe\x00 binary")]
        await send(running.bootstrap, running.topic(family), event.partition_key(), serialize(event), headers=headers)
        assert await wait_until(lambda effect=effect, running=running: effect(running), timeout=60)


async def _passed(bootstrap: str, group: str, partition: TopicPartition, offset: int) -> bool:
    return await committed(bootstrap, group, partition) > offset


async def _all(found: Any, count: int) -> dict | None:
    letters = await found
    return letters if len(letters) == count else None
