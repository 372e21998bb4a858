"""Raw limits of this machine, measured in this run: Kafka produce and consume throughput (1 KB messages,
aiokafka) and database single-insert and bulk-insert throughput (PyMongo async on the configured database).
Later benchmarks report their figures as ratios to these."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, UpdateOne

from tests.bench import limits

BOOTSTRAP = os.environ.get("HUYING_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO = os.environ.get("HUYING_MONGODB_URI", "mongodb://127.0.0.1:27017/")
MESSAGES = int(os.environ.get("BENCH_KAFKA_MESSAGES", "50000"))
SINGLE = int(os.environ.get("BENCH_DB_SINGLE", "2000"))
BULK = int(os.environ.get("BENCH_DB_BULK", "50000"))
PAYLOAD = b"x" * 1024


async def kafka_produce(topic: str) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, PAYLOAD, key=b"warm")
        began = time.perf_counter()
        futures = [await producer.send(topic, PAYLOAD, key=str(i % 64).encode()) for i in range(MESSAGES)]
        await asyncio.gather(*futures)
        return MESSAGES / (time.perf_counter() - began)
    finally:
        await producer.stop()


async def kafka_consume(topic: str) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        seen, began = 0, None
        while seen < MESSAGES + 1:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10000)
            if began is None and batch:
                began = time.perf_counter()
            seen += sum(len(records) for records in batch.values())
        return MESSAGES / (time.perf_counter() - began)
    finally:
        await consumer.stop()


async def database(db_name: str) -> tuple[float, float, float, float]:
    client: AsyncMongoClient = AsyncMongoClient(MONGO)
    try:
        collection = client[db_name].raw
        await collection.insert_one({"warm": True})
        began = time.perf_counter()
        for i in range(SINGLE):
            await collection.insert_one({"n": i, "body": "x" * 512})
        single = SINGLE / (time.perf_counter() - began)
        began = time.perf_counter()
        for start in range(0, BULK, 1000):
            await collection.insert_many(
                [{"n": i, "body": "x" * 512} for i in range(start, start + 1000)], ordered=False
            )
        bulk = BULK / (time.perf_counter() - began)
        # by primary key, as every store's hot write: one version-checked update at a time, then bulk upserts
        await collection.insert_many([{"_id": f"k{i}", "version": 0} for i in range(SINGLE)])
        began = time.perf_counter()
        for i in range(SINGLE):
            await collection.update_one({"_id": f"k{i}", "version": 0}, {"$set": {"body": "y" * 512, "version": 1}})
        update = SINGLE / (time.perf_counter() - began)
        began = time.perf_counter()
        for start in range(0, BULK, 1000):
            await collection.bulk_write(
                [
                    UpdateOne({"_id": f"u{i}", "rev": {"$lt": 1}}, {"$set": {"body": "x" * 512, "rev": 1}}, upsert=True)
                    for i in range(start, start + 1000)
                ],
                ordered=False,
            )
        upsert = BULK / (time.perf_counter() - began)
        return single, bulk, update, upsert
    finally:
        await client.drop_database(db_name)
        await client.close()


async def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    token = uuid.uuid4().hex[:8]
    topic = f"bench{token}.raw"
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)  # the broker creates no topic by itself
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    produce = await kafka_produce(topic)
    consume = await kafka_consume(topic)
    single, bulk, update, upsert = await database(f"bench{token}")
    figures = {
        "kafka_produce_msgs_per_s": produce,
        "kafka_consume_msgs_per_s": consume,
        "db_single_insert_per_s": single,
        "db_bulk_insert_per_s": bulk,
        "db_update_one_per_s": update,
        "db_bulk_upsert_per_s": upsert,
    }
    limits.save(figures)
    print(f"kafka produce (1 KB, acks=all, idempotent): {produce:>10,.0f} msg/s  ({MESSAGES:,} messages)")
    print(f"kafka consume (1 KB):                       {consume:>10,.0f} msg/s")
    print(f"database single insert_one:                 {single:>10,.0f} docs/s ({SINGLE:,} docs)")
    print(f"database bulk insert_many (1,000/batch):    {bulk:>10,.0f} docs/s ({BULK:,} docs)")
    print(f"database update_one by _id + version:       {update:>10,.0f} docs/s ({SINGLE:,} docs)")
    print(f"database bulk upsert by _id (1,000/batch):  {upsert:>10,.0f} docs/s ({BULK:,} docs)")
    print(f"saved to {limits.PATH}")


if __name__ == "__main__":
    asyncio.run(main())
