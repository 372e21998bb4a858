"""`python -m huying.rebuild --service S crm|tickets|events [--dry-run]`: empty a service's read model and start a new
epoch, so the service replays the read model's topics from the beginning at its next start (huying.rebuild).
`tickets` is sla-watch's ticket state (sla_watch.replaying): stop sla-watch first (a running one would go on
appending to emptied ledgers until restarted). `events` is reporting's facts, notification outcomes and line quality
(reporting.handlers.events_model): stop reporting first, for the same reason."""

from __future__ import annotations

import argparse
import asyncio
import importlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from huying.crm_replica import crm_model
from huying.mongo import make_mongo_client
from huying.rebuild import ReadModel, rebuild
from huying.topics import Topics

# The services whose read models replay at start (`start_read_models` in their setup): all five.
PACKAGES = {
    "intake": "intake",
    "dispatch": "dispatch",
    "sla-watch": "sla_watch",
    "notify": "notify",
    "reporting": "reporting",
}
MODELS = ("crm", "tickets", "events")
TICKETS_OF = {"sla-watch": "sla_watch.replaying"}  # services whose ticket state is a read model
EVENTS_OF = {"reporting": "reporting.handlers"}  # services whose facts from every ticket topic are a read model


def read_model(name: str, settings: Any, service: str = "") -> ReadModel:
    topics = Topics(settings.topic_prefix)
    if name == "crm":
        return crm_model(settings, topics)
    if name == "tickets" and service in TICKETS_OF:
        return importlib.import_module(TICKETS_OF[service]).tickets_model(settings, topics)
    if name == "events" and service in EVENTS_OF:
        return importlib.import_module(EVENTS_OF[service]).events_model(settings, topics)
    raise ValueError(f"{service or 'this service'} has no read model {name!r}")


async def run(service: str, names: Sequence[str], *, settings: Any = None, dry_run: bool = False) -> list[str]:
    """Rebuild the named read models of a service (its settings from the environment unless given)."""
    if settings is None:
        spec = importlib.import_module(f"{PACKAGES[service]}.app").SPEC
        settings = spec.settings()
    client = make_mongo_client(settings)
    lines = []
    try:
        db = client[settings.database_name]
        for name in names:
            model = read_model(name, settings, service)
            if dry_run:
                counts = {c: await db[c].count_documents({}) for c in model.collections}
                lines.append(f"would rebuild {service} {name}: empty {_counts(counts)} in {db.name}, new epoch")
                continue
            old, new, removed = await rebuild(db, model, now=datetime.now(UTC))
            lines.append(
                f"{service} {name}: emptied {_counts(removed)} in {db.name}; epoch {old or '(none)'} → {new}: "
                f"the next start replays {', '.join(model.topics)} as {model.group(new)}"
            )
    finally:
        await client.close()
    return lines


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{c} ({n})" for c, n in counts.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m huying.rebuild", description="empty read models; the next start replays their topics"
    )
    parser.add_argument("--service", required=True, choices=sorted(PACKAGES))
    parser.add_argument("models", nargs="+", choices=MODELS, help="read models to drop and replay")
    parser.add_argument("--dry-run", action="store_true", help="say what would be emptied, change nothing")
    args = parser.parse_args(argv)
    for line in asyncio.run(run(args.service, args.models, dry_run=args.dry_run)):
        print(line)
    return 0
