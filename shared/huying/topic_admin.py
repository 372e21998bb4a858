"""`python -m huying.topics apply`: create or reconcile every declared topic (and its dead-letter topic).

Idempotent: it reads what the cluster has, plans the difference (`plan`, pure) and makes only that change — a
second run changes nothing. It never deletes a topic or lowers a partition count (Kafka cannot; a topic with more
partitions than declared is reported and left alone), and it never changes a replication factor (a reassignment is
an operator's decision): both are reported as warnings.

    python -m huying.topics apply [--prefix P] [--profile local|production] [--bootstrap HOST:PORT] [--dry-run]

Profiles: `local` (one broker: 3 partitions, replication factor 1) for `make run` and the tests; `production`
(each topic's declared partitions, replication factor 3, min.insync.replicas 2: a write is acknowledged by two
brokers, and one broker may be down without stopping writes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from huying.topics import DAY_MS, DLQ_DAYS, Topic, Topics


@dataclass(frozen=True)
class Profile:
    name: str
    replication_factor: int
    min_insync_replicas: int
    partitions: int | None = None  # None: each topic's declared count


PROFILES = {
    "local": Profile("local", replication_factor=1, min_insync_replicas=1, partitions=3),
    "production": Profile("production", replication_factor=3, min_insync_replicas=2),
}


@dataclass(frozen=True)
class TopicState:
    """One topic: as the registry wants it on this cluster (`desired`), or as the cluster has it (`read_cluster`)."""

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


@dataclass(frozen=True)
class Action:
    kind: Literal["create", "configure", "add_partitions", "warn"]
    topic: str
    detail: str
    desired: TopicState | None = field(default=None, compare=False)


def topic_configs(topic: Topic, profile: Profile) -> dict[str, str]:
    configs = {
        "cleanup.policy": topic.cleanup,
        "retention.ms": str(topic.retention_ms),
        "retention.bytes": "-1",  # kept by time (or forever, compacted), never cut by size
        "min.insync.replicas": str(profile.min_insync_replicas),
    }
    if topic.cleanup == "compact":
        configs["min.compaction.lag.ms"] = str(DAY_MS)  # a consumer behind by less than a day sees every update
    return configs


def desired(topics: Topics, profile: Profile) -> list[TopicState]:
    """Every declared topic and its dead-letter topic, under the topics' prefix, for this profile."""
    out = []
    for topic in topics.all():
        partitions = profile.partitions or topic.partitions
        rf = profile.replication_factor
        out.append(TopicState(topic.name, partitions, rf, topic_configs(topic, profile)))
        dlq = {
            "cleanup.policy": "delete",
            "retention.ms": str(DLQ_DAYS * DAY_MS),
            "retention.bytes": "-1",
            "min.insync.replicas": str(profile.min_insync_replicas),
        }
        out.append(TopicState(topic.dlq, min(partitions, 3), rf, dlq))
    return out


def plan(wanted: Sequence[TopicState], have: Mapping[str, TopicState]) -> list[Action]:
    """What to change so the cluster has `wanted` (pure)."""
    actions = []
    for want in wanted:
        current = have.get(want.name)
        if current is None:
            detail = f"{want.partitions} partitions, replication {want.replication_factor}, {_configs(want.configs)}"
            actions.append(Action("create", want.name, detail, want))
            continue
        differ = {k: v for k, v in want.configs.items() if current.configs.get(k) != v}
        if differ:
            was = {k: current.configs.get(k) for k in differ}
            actions.append(Action("configure", want.name, f"{_configs(was)} → {_configs(differ)}", want))
        if current.partitions < want.partitions:
            detail = f"{current.partitions} → {want.partitions} partitions"
            actions.append(Action("add_partitions", want.name, detail, want))
        elif current.partitions > want.partitions:
            detail = f"has {current.partitions} partitions, {want.partitions} declared (Kafka cannot remove any)"
            actions.append(Action("warn", want.name, detail, want))
        if current.replication_factor != want.replication_factor:
            detail = f"replication factor {current.replication_factor}, {want.replication_factor} declared"
            actions.append(Action("warn", want.name, detail + " (reassign partitions to change it)", want))
    return actions


def _configs(configs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(configs.items()))


async def read_cluster(admin: Any, names: Sequence[str]) -> dict[str, TopicState]:
    """The named topics that exist, with their partitions, replication factor and configs."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    existing = set(await admin.list_topics()) & set(names)  # describing a missing topic may auto-create it
    if not existing:
        return {}
    found = [t for t in await admin.describe_topics(sorted(existing)) if t["error_code"] == 0 and t["partitions"]]
    if not found:
        return {}
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t["topic"]) for t in found])
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            entries = resource["config_entries"]
            configs[resource["resource_name"]] = {e["config_names"]: e["config_value"] for e in entries}
    return {
        t["topic"]: TopicState(
            t["topic"], len(t["partitions"]), len(t["partitions"][0]["replicas"]), configs.get(t["topic"], {})
        )
        for t in found
    }


async def execute(admin: Any, actions: Sequence[Action]) -> None:
    from aiokafka.admin import NewPartitions, NewTopic
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from aiokafka.errors import TopicAlreadyExistsError

    creates = [a.desired for a in actions if a.kind == "create" and a.desired]
    if creates:
        new = [NewTopic(d.name, d.partitions, d.replication_factor, topic_configs=dict(d.configs)) for d in creates]
        with contextlib.suppress(TopicAlreadyExistsError):  # another `apply` (a parallel test, a replica) won
            await admin.create_topics(new)
    configure = [a.desired for a in actions if a.kind == "configure" and a.desired]
    if configure:
        # the whole declared set per topic: what the registry does not declare goes back to the broker's default
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, d.name, dict(d.configs)) for d in configure]
        )
    grow = {a.topic: NewPartitions(a.desired.partitions) for a in actions if a.kind == "add_partitions" and a.desired}
    if grow:
        await admin.create_partitions(grow)


async def apply(
    bootstrap: str, topics: Topics, profile: Profile, *, dry_run: bool = False, wait: float = 30.0
) -> list[Action]:
    """Plan and (unless dry_run) make the changes; returns what was planned. Waits until created topics are
    visible with a leader for every partition, so a consumer that starts right after sees all of them."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="huying-topics")
    await admin.start()
    try:
        wanted = desired(topics, profile)
        names = [w.name for w in wanted]
        actions = plan(wanted, await read_cluster(admin, names))
        if dry_run:
            return actions
        todo = _changes(actions)
        for _ in range(3):  # a topic someone else created meanwhile (with other settings) is configured next round
            if not todo:
                return actions
            await execute(admin, todo)
            await _until_visible(admin, wanted, wait)
            todo = await _settled(admin, wanted, names, wait=5.0)
        raise RuntimeError(f"topics still differ from the registry: {[f'{a.topic}: {a.detail}' for a in todo]}")
    finally:
        await admin.close()


def _changes(actions: Sequence[Action]) -> list[Action]:
    return [a for a in actions if a.kind != "warn"]


async def _settled(admin: Any, wanted: Sequence[TopicState], names: Sequence[str], *, wait: float) -> list[Action]:
    """The changes still needed once the cluster's metadata has caught up (a change is visible a moment after it is
    acknowledged): polled until none is left or `wait` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        todo = _changes(plan(wanted, await read_cluster(admin, names)))
        if not todo or loop.time() > deadline:
            return todo
        await asyncio.sleep(0.2)


async def _until_visible(admin: Any, wanted: Sequence[TopicState], wait: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    names = [w.name for w in wanted]
    while True:
        topics = await admin.describe_topics(names)
        led = [t for t in topics if t["error_code"] == 0 and t["partitions"]]
        if len(led) == len(names) and all(p["leader"] >= 0 for t in led for p in t["partitions"]):
            return
        if loop.time() > deadline:
            missing = sorted(set(names) - {t["topic"] for t in led})
            raise TimeoutError(f"topics not ready after {wait:.0f}s: {missing or 'leaders missing'}")
        await asyncio.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m huying.topics", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("apply", help="create or reconcile every declared topic")
    cmd.add_argument("--prefix", default=os.environ.get("HUYING_TOPIC_PREFIX", ""))
    cmd.add_argument("--profile", choices=sorted(PROFILES), default=os.environ.get("HUYING_TOPIC_PROFILE", "local"))
    cmd.add_argument("--bootstrap", default=os.environ.get("HUYING_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    cmd.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    actions = asyncio.run(apply(args.bootstrap, Topics(args.prefix), PROFILES[args.profile], dry_run=args.dry_run))
    verb = "would " if args.dry_run else ""
    for action in actions:
        print(f"{verb}{action.kind:<14} {action.topic}: {action.detail}")
    changes = [a for a in actions if a.kind != "warn"]
    print(
        f"topics ({args.profile}, prefix {args.prefix!r}): {len(changes) or 'nothing'} to change"
        if args.dry_run
        else f"topics ({args.profile}, prefix {args.prefix!r}): {len(changes) or 'nothing'} changed"
    )
    return 0
