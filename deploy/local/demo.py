"""Demo data for `make run`: a generated CRM of enterprise customers across tiers and cities of one province,
published to `huying.crm.v1` so every service's CRM replica fills up.

Deterministic (fixed seed, uuid5 event ids): running it again publishes the same events, which every consumer
de-duplicates, so restarting `make run` never doubles the data.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from huying.events import Contact, CustomerUpserted, Event, ServiceLineUpserted
from huying.kafka import event_headers, serialize
from huying.topics import Topics

NAMESPACE = uuid.UUID("7b0e3c4e-7d0a-4f58-9a53-2b1c6a0d9e11")
CITIES = ["广州", "深圳", "佛山", "东莞", "珠海", "汕头", "惠州", "中山", "江门", "湛江"]
TIERS = [("gold", 0.06), ("silver", 0.16), ("bronze", 0.30), ("standard", 0.48)]
KINDS = ["银行", "证券", "医院", "制造", "物流", "学校", "政务", "酒店", "零售", "能源"]
PRODUCTS = [
    ("互联网专线 100M", "access"),
    ("数据专线 2M", "access"),
    ("互联网专线 1G", "access"),
    ("语音专线", "overlay"),
    ("移动VPN", "overlay"),
    ("集团短信", "overlay"),
]
SURNAMES = "王李张刘陈杨黄赵吴周"
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


def _contact(rng: random.Random, role: str) -> Contact:
    name = rng.choice(SURNAMES) + rng.choice(["伟", "芳", "娜", "敏", "静", "强", "磊", "洋"])
    return Contact(name=name, phone=f"13{rng.randint(100000000, 999999999)}", role=role)


def demo_crm(customers: int = 300, seed: int = 20260101) -> list[Event]:
    """CustomerUpserted and ServiceLineUpserted events for `customers` generated customers."""
    rng = random.Random(seed)
    events: list[Event] = []
    for n in range(1, customers + 1):
        city = rng.choice(CITIES)
        tier = rng.choices([t for t, _ in TIERS], weights=[w for _, w in TIERS])[0]
        customer_id = f"C-{CITIES.index(city) + 1:02d}-{n:04d}"
        events.append(
            CustomerUpserted(
                event_id=uuid.uuid5(NAMESPACE, customer_id),
                occurred_at=AS_OF,
                producer="demo-crm",
                customer_id=customer_id,
                name=f"{city}{rng.choice(KINDS)}集团{n:03d}",
                tier=tier,
                city=city,
                account_manager=_contact(rng, "客户经理"),
                contacts=[_contact(rng, "IT运维")],
                revision=1,
            )
        )
        for line in range(1, rng.randint(1, 4) + 1):
            product, category = rng.choice(PRODUCTS)
            scope = rng.choices(["intra_city", "inter_city", "inter_province"], weights=[6, 3, 1])[0]
            cities = [city] if scope == "intra_city" else [city, rng.choice([c for c in CITIES if c != city])]
            line_id = f"L-{customer_id[2:]}-{line:02d}"
            events.append(
                ServiceLineUpserted(
                    event_id=uuid.uuid5(NAMESPACE, line_id),
                    occurred_at=AS_OF,
                    producer="demo-crm",
                    service_line_id=line_id,
                    customer_id=customer_id,
                    product=product,
                    category=category,
                    scope=scope,
                    cities=cities,
                    revision=1,
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


def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # metadata chatter while checking the topic
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=int(os.environ.get("HUYING_DEMO_CUSTOMERS", "300")))
    parser.add_argument("--force", action="store_true", help="publish even if the topic already holds data")
    args = parser.parse_args()
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
