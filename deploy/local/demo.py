"""Demo data for `make run`: a generated CRM of enterprise customers across tiers and cities of one province,
published to `huying.crm.v1` so every service's CRM replica fills up; and, with `--stream`, a gentle, realistic
stream of fault reports and alarms for those customers until Ctrl-C.

The CRM is deterministic (fixed seed, uuid5 event ids): running it again publishes the same events, which every
consumer de-duplicates, so restarting `make run` never doubles the data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import time
import urllib.request
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from huying.events import AlarmRaised, Contact, CustomerUpserted, Event, ReportReceived, ServiceLineUpserted
from huying.kafka import event_headers, serialize
from huying.topics import Topics

NAMESPACE = uuid.UUID("7b0e3c4e-7d0a-4f58-9a53-2b1c6a0d9e11")
CITIES = ["广州", "深圳", "佛山", "东莞", "珠海", "汕头", "惠州", "中山", "江门", "湛江"]
TIERS = [("gold", 0.06), ("silver", 0.16), ("bronze", 0.30), ("standard", 0.48)]
KINDS = ["银行", "证券", "医院", "制造", "物流", "学校", "政务", "酒店", "零售", "能源"]
PRODUCTS = [  # (product, category, product family: "the same service" of seed 003's mass outage)
    ("互联网专线 100M", "access", "internet"),
    ("数据专线 2M", "access", "circuit"),
    ("互联网专线 1G", "access", "internet"),
    ("语音专线", "overlay", "voice"),
    ("移动VPN", "overlay", "vpn"),
    ("集团短信", "overlay", "group_sms"),
]
# CRM grade by tier (weights of provincial, city_diamond, ordinary): important customers are mostly gold or silver
GRADES = ["provincial", "city_diamond", "ordinary"]
GRADE_WEIGHTS = {"gold": [4, 4, 2], "silver": [1, 3, 6], "bronze": [0, 1, 9], "standard": [0, 0, 1]}
LEVELS = ["AAA", "AA", "A", "ordinary"]
REVISION = 2  # 2: grades, product families and assurance levels (issue 12); a replica holding revision 1 takes them
SURNAMES = "王李张刘陈杨黄赵吴周"
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


_LEVEL = dict(zip(("gold", "silver", "bronze", "standard"), LEVELS, strict=True))


def _contact(rng: random.Random, role: str) -> Contact:
    name = rng.choice(SURNAMES) + rng.choice(["伟", "芳", "娜", "敏", "静", "强", "磊", "洋"])
    return Contact(name=name, phone=f"13{rng.randint(100000000, 999999999)}", role=role)


def demo_crm(customers: int = 300, seed: int = 20260101) -> list[Event]:
    """CustomerUpserted and ServiceLineUpserted events for `customers` generated customers."""
    rng = random.Random(seed)
    facts = random.Random(seed + 1)  # the issue-12 facts, drawn apart so the customers and lines stay the same
    events: list[Event] = []
    for n in range(1, customers + 1):
        city = rng.choice(CITIES)
        tier = rng.choices([t for t, _ in TIERS], weights=[w for _, w in TIERS])[0]
        customer_id = f"C-{CITIES.index(city) + 1:02d}-{n:04d}"
        events.append(
            CustomerUpserted(
                event_id=uuid.uuid5(NAMESPACE, f"{customer_id}|{REVISION}"),
                occurred_at=AS_OF,
                producer="demo-crm",
                customer_id=customer_id,
                name=f"{city}{rng.choice(KINDS)}集团{n:03d}",
                tier=tier,
                city=city,
                grade=facts.choices(GRADES, weights=GRADE_WEIGHTS[tier])[0],
                account_manager=_contact(rng, "客户经理"),
                contacts=[_contact(rng, "IT运维")],
                revision=REVISION,
            )
        )
        for line in range(1, rng.randint(1, 4) + 1):
            product, category, family = rng.choice(PRODUCTS)
            scope = rng.choices(["intra_city", "inter_city", "inter_province"], weights=[6, 3, 1])[0]
            cities = [city] if scope == "intra_city" else [city, rng.choice([c for c in CITIES if c != city])]
            line_id = f"L-{customer_id[2:]}-{line:02d}"
            events.append(
                ServiceLineUpserted(
                    event_id=uuid.uuid5(NAMESPACE, f"{line_id}|{REVISION}"),
                    occurred_at=AS_OF,
                    producer="demo-crm",
                    service_line_id=line_id,
                    customer_id=customer_id,
                    product=product,
                    product_family=family,
                    category=category,
                    scope=scope,
                    cities=cities,
                    # one line in ten has a level of its own, one above the tier's (AAA stays AAA)
                    assurance_level=LEVELS[max(0, LEVELS.index(_LEVEL[tier]) - 1)] if facts.random() < 0.1 else None,
                    revision=REVISION,
                )
            )
    return events


async def already_published(*, bootstrap: str, topic: str) -> bool:
    """True when the topic already holds records: consumers have (or will) read them; no need to send again."""
    admin, consumer = AIOKafkaAdminClient(bootstrap_servers=bootstrap), AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        if topic not in await admin.list_topics():
            return False
        [described] = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        return sum((await consumer.end_offsets(partitions)).values()) > 0
    finally:
        await consumer.stop()
        await admin.close()


async def publish(events: list[Event], *, bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for event in events:
            headers = [(k, v.encode()) for k, v in event_headers(event).items()]
            await producer.send(topic, serialize(event), key=event.partition_key(), headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


# The live stream (`--stream`): a gentle, realistic stream of what reaches the center, for the generated CRM.
#
# Every few seconds (HUYING_DEMO_INTERVAL_SECONDS, default 6, randomised) one of: a hotline fault report (HTTP, with
# the demo API key), a monitoring alarm (Kafka), a consultation the hotline answers from its FAQ, a gold customer's
# green-channel call with its formal back-fill a little later, or — now and then — a small mass outage: three
# customers of one city reporting the same kind of service within a minute. Runs until SIGINT/SIGTERM.
#
# Reports go over HTTP when HUYING_DEMO_API_KEY is set (run.py sets it and gives intake the same key), otherwise
# to `huying.intake.v1`. External ids carry the start time, so a restarted stream never collides with an old one.

SOURCE = "demo-hotline"
AM_SOURCE = "demo-am"
FAULTS = ["专线中断，无法访问互联网", "业务时断时续", "语音专线无法呼出", "集团短信发送失败", "VPN 无法接入"]


def api_key(secret: str, source: str) -> str:
    """The demo's key for one source system (run.py gives intake the same keys)."""
    return f"{secret}-{source}"


def intake_api_keys(secret: str) -> str:
    """HUYING_INTAKE_API_KEYS for the demo's source systems."""
    return json.dumps({source: api_key(secret, source) for source in (SOURCE, AM_SOURCE)})


class Stream:
    def __init__(self, crm: list[Event], *, bootstrap: str, topics: Topics, url: str, key: str | None) -> None:
        self.customers = {e.customer_id: e for e in crm if isinstance(e, CustomerUpserted)}
        self.lines = [e for e in crm if isinstance(e, ServiceLineUpserted)]
        self.bootstrap, self.topics, self.url, self.key = bootstrap, topics, url, key
        self.rng, self.run_id, self.n = random.Random(), time.strftime("%m%d%H%M%S"), 0
        self.producer: AIOKafkaProducer | None = None

    def next_id(self, kind: str) -> str:
        self.n += 1
        return f"{kind}-{self.run_id}-{self.n:05d}"

    async def publish(self, topic: str, event: Event) -> None:
        headers = [(k, v.encode()) for k, v in event_headers(event).items()]
        assert self.producer is not None
        await self.producer.send_and_wait(topic, serialize(event), key=event.partition_key(), headers=headers)

    async def report(self, line: ServiceLineUpserted, *, channel: str = "hotline", **extra: object) -> dict:
        body = {
            "channel": channel,
            "external_id": self.next_id("GC" if channel == "green_channel" else "CC"),
            "customer_id": line.customer_id,
            "service_line_id": line.service_line_id,
            "category_hint": str(line.category),
            "description": self.rng.choice(FAULTS),
            "reported_at": datetime.now(UTC).isoformat(),
            **extra,
        }
        source = AM_SOURCE if channel in ("green_channel", "account_manager") else SOURCE
        if self.key is None:
            await self.publish(self.topics.intake.name, ReportReceived(source_system=source, **body))  # type: ignore[arg-type]
            return {"ticket_id": None, "status": "sent to Kafka", "external_id": body["external_id"]}
        return await asyncio.to_thread(self._post, body, source)

    def _post(self, body: dict, source: str) -> dict:
        request = urllib.request.Request(
            f"{self.url}/v1/reports",
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", "X-API-Key": api_key(self.key or "", source)},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return {**json.load(response), "external_id": body["external_id"]}

    async def alarm(self, line: ServiceLineUpserted) -> str:
        alarm = AlarmRaised(
            producer="demo-nms",
            alarm_id=self.next_id("NMS"),
            service_line_id=line.service_line_id,
            resource=f"{line.cities[0]}-OLT-{self.rng.randint(1, 400):04d}/PON{self.rng.randint(1, 16)}",
            city=line.cities[0],
            severity=self.rng.choice(["critical", "major", "major", "minor"]),
            raised_at=datetime.now(UTC),
            description="LOS on PON port",
        )
        await self.publish(self.topics.alarms.name, alarm)
        return f"alarm {alarm.alarm_id} ({alarm.severity}) on {line.service_line_id}"

    async def tick(self) -> str:
        line = self.rng.choice(self.lines)
        roll = self.rng.random()
        if roll < 0.55:
            result = await self.report(line)
            return f"hotline report on {line.service_line_id}: {result['status']} {result.get('ticket_id') or ''}"
        if roll < 0.80:
            return await self.alarm(line)
        if roll < 0.88:
            result = await self.report(line, attributes={"faq_answered": True, "faq_id": "FAQ-012"})
            return f"hotline consultation: {result['status']}"
        if roll < 0.94:
            gold = [ln for ln in self.lines if self.customers[ln.customer_id].tier == "gold"]
            line = self.rng.choice(gold)
            call = await self.report(line, channel="green_channel", attributes={"full_outage": True})
            if call.get("ticket_id"):
                asyncio.get_running_loop().call_later(30, self._backfill, call, line)
            return f"green channel call: {call['status']} {call.get('ticket_id') or ''}"
        return await self.mass_outage(line)

    def _backfill(self, call: dict, line: ServiceLineUpserted) -> None:
        attributes = {"backfill_ticket_id": call["ticket_id"]}
        task = asyncio.ensure_future(self.report(line, channel="account_manager", attributes=attributes))
        task.add_done_callback(lambda t: t.exception() and print(f"demo: back-fill failed: {t.exception()}"))

    def ordinary_groups(self) -> dict[tuple[str, str], dict[str, ServiceLineUpserted]]:
        """(city, product family) → one intra-city line per ordinary customer (seed 003 普通集团客户: CRM grade
        ordinary and no inter-city or inter-province line) — the customers whose full outages intake counts."""
        wide = {ln.customer_id for ln in self.lines if ln.scope != "intra_city"}
        groups: dict[tuple[str, str], dict[str, ServiceLineUpserted]] = {}
        for ln in self.lines:
            customer = self.customers[ln.customer_id]
            if customer.grade == "ordinary" and ln.customer_id not in wide and ln.product_family:
                groups.setdefault((ln.cities[0], ln.product_family), {}).setdefault(ln.customer_id, ln)
        return groups

    async def mass_outage(self, first: ServiceLineUpserted) -> str:
        """Seed 003's mass outage: 3–4 ordinary customers of one city all lose one service (a full outage)."""
        groups = self.ordinary_groups()
        big = sorted(key for key, by_customer in groups.items() if len(by_customer) >= 3)
        city, family = self.rng.choice(big) if big else (first.cities[0], first.product_family or "")
        same = list(groups.get((city, family), {first.customer_id: first}).values())
        hit = self.rng.sample(same, min(len(same), self.rng.randint(3, 4)))
        results = []
        for line in hit:
            results.append(await self.report(line, description="大面积业务中断", attributes={"full_outage": True}))
            await asyncio.sleep(self.rng.uniform(1, 5))
        opened = [r.get("incident_opened") for r in results if r.get("incident_opened")]
        return f"mass outage in {city} ({family}): {len(hit)} reports, incident {opened or '-'}"

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all")
        await self.producer.start()
        try:
            while not stop.is_set():
                try:
                    print(f"demo: {await self.tick()}", flush=True)
                except Exception as error:  # a demo hiccup (service restarting) must not end the demo
                    print(f"demo: {type(error).__name__}: {error}", flush=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.rng.uniform(0.5, 1.5) * interval)
        finally:
            await self.producer.stop()


def run_stream(crm: list[Event]) -> None:
    """Send demo traffic until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        port = os.environ.get("HUYING_INTAKE_HTTP_PORT", "8101")
        stream = Stream(
            crm,
            bootstrap=os.environ.get("HUYING_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            topics=Topics(os.environ.get("HUYING_TOPIC_PREFIX", "")),
            url=f"http://127.0.0.1:{port}",
            key=os.environ.get("HUYING_DEMO_API_KEY"),
        )
        await stream.run(float(os.environ.get("HUYING_DEMO_INTERVAL_SECONDS", "6")), stop)

    asyncio.run(main())


def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # metadata chatter while checking the topic
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=int(os.environ.get("HUYING_DEMO_CUSTOMERS", "300")))
    parser.add_argument("--force", action="store_true", help="publish even if the topic already holds data")
    parser.add_argument("--stream", action="store_true", help="then send reports and alarms until interrupted")
    args = parser.parse_args()
    if args.stream:
        run_stream(demo_crm(args.customers))
        return
    events = demo_crm(args.customers)
    topic = Topics(os.environ.get("HUYING_TOPIC_PREFIX", "")).crm.name
    bootstrap = os.environ.get("HUYING_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    if not args.force and asyncio.run(already_published(bootstrap=bootstrap, topic=topic)):
        print(f"demo: {topic} already holds data; not publishing again (--force to do so)", flush=True)
        return
    asyncio.run(publish(events, bootstrap=bootstrap, topic=topic))
    print(f"demo: published {len(events)} CRM events ({args.customers} customers) to {topic}", flush=True)


if __name__ == "__main__":
    main()
