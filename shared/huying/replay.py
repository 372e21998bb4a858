"""Replays what the failure paths set aside, once its cause is fixed.

    python -m huying.replay dlq --topic huying.intake.v1.dlq [--consumer G] [--offset [P:]N ...] [--since ISO]
                                [--dry-run]
    python -m huying.replay outbox --service intake [--event-id ID ...] [--dry-run]

`dlq` reads the dead-letter topic from its beginning up to the end it had when the command started (a consumer of
its own: no group, nothing committed), and publishes each selected letter's original key, value and headers to its
original topic, with a `replayed_from` header (`<dlq topic>:<partition>:<offset>`). Every consumer group of that
topic sees the record again (consumers de-duplicate). A letter that does not hold the whole record (`cut`: its
value was larger than HUYING_DLQ_INLINE_BYTES, or its key or headers were cut) is refused: its original is the
record it references, in the original topic at that partition and offset, while retention keeps it.

`outbox` republishes the events a service's outbox relay quarantined (Kafka refused them for good) and removes each
from `outbox_quarantine` once Kafka has acknowledged it.

Both read HUYING_KAFKA_BOOTSTRAP (and HUYING_MONGODB_URI, HUYING_<SERVICE>_MONGODB_DATABASE) like the services.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from huying.dlq import DeadLetter
from huying.settings import ServiceSettings

REPLAYED_FROM = "replayed_from"


@dataclass
class Selection:
    """Which letters to replay: by consumer group, by dead-letter offset (`(partition, offset)`, partition None
    for any), failed at or after `since`; empty means all."""

    consumer: str | None = None
    offsets: set[tuple[int | None, int]] = field(default_factory=set)
    since: datetime | None = None

    def picks(self, letter: DeadLetter, partition: int, offset: int) -> bool:
        if self.consumer is not None and letter.consumer != self.consumer:
            return False
        if self.offsets and not {(partition, offset), (None, offset)} & self.offsets:
            return False
        return self.since is None or letter.failed_at >= self.since


@dataclass
class Summary:
    replayed: int = 0
    refused: int = 0
    skipped: int = 0
    unreadable: int = 0
    lines: list[str] = field(default_factory=list)

    def line(self, *, dry_run: bool) -> str:
        return (
            f"{'dry run: would replay' if dry_run else 'replayed'} {self.replayed}, refused {self.refused} (not "
            f"whole), skipped {self.skipped} (not selected), unreadable {self.unreadable}"
        )


def refusal(letter: DeadLetter) -> str | None:
    """Why a letter cannot be replayed from itself, or None."""
    if letter.complete:
        return None
    cut = ", ".join(part for part in letter.cut if part != "error")
    return (
        f"its {cut} was cut (value {letter.value_size} bytes, sha256 {letter.value_sha256}): the original is "
        f"{letter.reference}, in {letter.original_topic} while retention keeps it"
    )


def original_headers(letter: DeadLetter, source: str) -> list[tuple[str, bytes]]:
    headers = [(k, v.encode()) for k, v in letter.headers.items() if k != REPLAYED_FROM]
    return [*headers, (REPLAYED_FROM, source.encode())]


async def read_letters(bootstrap: str, topic: str) -> list[tuple[int, int, bytes]]:
    """Every record of the dead-letter topic up to the end it has now: (partition, offset, value)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return []
        if not consumer.partitions_for_topic(topic):
            await consumer._client.force_metadata_update()  # a topic created a moment ago (aiokafka: no public call)
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:  # created a moment ago, no leader yet: nothing to read
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[int, int, bytes]] = []
        while open_ := [p for p in partitions if await consumer.position(p) < ends[p]]:
            for tp, batch in (await consumer.getmany(*open_, timeout_ms=1000)).items():
                records.extend((tp.partition, r.offset, r.value) for r in batch if r.offset < ends[tp])
        return sorted(records)
    finally:
        await consumer.stop()


async def replay_dlq(
    bootstrap: str, topic: str, selection: Selection, *, dry_run: bool = False, out: Callable[[str], Any] = print
) -> Summary:
    """Republish the selected letters of `topic` (a `.dlq` topic) to their original topics; prints a line each."""
    summary = Summary()

    def say(line: str) -> None:
        summary.lines.append(line)
        out(line)

    producer = None if dry_run else AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    if producer is not None:
        await producer.start()
    try:
        for partition, offset, value in await read_letters(bootstrap, topic):
            where = f"{topic}[{partition}]@{offset}"
            try:
                letter = DeadLetter.model_validate_json(value)
            except ValidationError:
                summary.unreadable += 1
                say(f"unreadable {where}: not a dead letter")
                continue
            if not selection.picks(letter, partition, offset):
                summary.skipped += 1
                continue
            if reason := refusal(letter):
                summary.refused += 1
                say(f"refused {where}: {reason}")
                continue
            summary.replayed += 1
            verb = "would replay" if producer is None else "replayed"
            if producer is not None:
                await producer.send_and_wait(
                    letter.original_topic,
                    letter.original_value(),
                    key=letter.original_key(),
                    headers=original_headers(letter, f"{topic}:{partition}:{offset}"),
                )
            say(f"{verb} {where} -> {letter.original_topic} ({letter.consumer}: {letter.error[:120]})")
    finally:
        if producer is not None:
            await producer.stop()
    say(summary.line(dry_run=dry_run))
    return summary


def service_settings(service: str, **overrides: Any) -> ServiceSettings:
    """A service's shared settings read as the service reads them (HUYING_<SERVICE>_ for its own fields)."""
    prefix = f"HUYING_{service.upper().replace('-', '_')}_"

    class Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix=prefix, extra="ignore")

    return Settings(service_name=service, **overrides)


async def replay_outbox(
    settings: ServiceSettings, *, event_ids: Sequence[str] = (), dry_run: bool = False, out: Callable = print
) -> list[Any]:
    """Republish a service's quarantined outbox events (all, or those named)."""
    from faststream.kafka import KafkaBroker

    from huying.mongo import make_mongo_client
    from huying.outbox import republish_quarantined

    broker = KafkaBroker(settings.kafka_bootstrap, enable_idempotence=True, acks="all")
    mongo = make_mongo_client(settings)
    await broker.connect()
    try:
        done = await republish_quarantined(broker, mongo[settings.database_name], event_ids=event_ids, dry_run=dry_run)
    finally:
        await broker.stop()
        await mongo.close()
    for item in done:
        out(f"{item.outcome} {item.event_id} -> {item.topic}" + (f": {item.error}" if item.error else ""))
    sent = sum(1 for item in done if item.outcome == "sent")
    out(f"{settings.database_name}: {len(done)} quarantined event(s) selected, {sent} republished")
    return done


def _offset(text: str) -> tuple[int | None, int]:
    partition, _, offset = text.rpartition(":")
    return (int(partition) if partition else None), int(offset)


def _since(text: str) -> datetime:
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m huying.replay", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dlq = sub.add_parser("dlq", help="republish dead letters to their original topics")
    dlq.add_argument("--topic", required=True, help="the dead-letter topic (`.dlq` is added if missing)")
    dlq.add_argument("--consumer", help="only letters of this consumer group")
    dlq.add_argument("--offset", action="append", type=_offset, default=[], help="[partition:]offset in the DLQ")
    dlq.add_argument("--since", type=_since, help="only letters that failed at or after this time (ISO 8601)")
    dlq.add_argument("--dry-run", action="store_true", help="say what would be replayed; publish nothing")
    outbox = sub.add_parser("outbox", help="republish a service's quarantined outbox events")
    outbox.add_argument("--service", required=True, help="intake, dispatch, sla-watch, notify or reporting")
    outbox.add_argument("--event-id", action="append", default=[], help="only this event (repeatable)")
    outbox.add_argument("--database", help="the service's database (default: as the service reads it)")
    outbox.add_argument("--dry-run", action="store_true", help="say what would be republished; publish nothing")
    return parser


async def run(argv: Sequence[str] | None = None, *, out: Callable[[str], Any] = print) -> int:
    args = parser().parse_args(argv)
    if args.command == "dlq":
        topic = args.topic if args.topic.endswith(".dlq") else f"{args.topic}.dlq"
        selection = Selection(consumer=args.consumer, offsets=set(args.offset), since=args.since)
        summary = await replay_dlq(ServiceSettings().kafka_bootstrap, topic, selection, dry_run=args.dry_run, out=out)
        return 1 if summary.refused else 0  # 1: a selected letter could not be replayed
    overrides = {"mongodb_database": args.database} if args.database else {}
    done = await replay_outbox(
        service_settings(args.service, **overrides), event_ids=args.event_id, dry_run=args.dry_run, out=out
    )
    return 1 if any(item.outcome == "failed" for item in done) else 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(argv))


if __name__ == "__main__":
    sys.exit(main())
