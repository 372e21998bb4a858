"""Query plans of what a store really sends: record every command of a service's database client during a
workflow, then `explain` each distinct query shape on the same server and report the ones that scan.

    with recording() as recorder:
        ... run the service (its clients are made while recording) ...
    assert await scans(mongo, recorder, database=db_name) == []

Rule (see huying.mongo): a filter with an `_id` equality or `$in` is a primary-key lookup on MongoDB and
SecantusDB alike (SecantusDB's explain labels `{_id, more}` a collection scan although it reads by key, measured
~1 ms at 100,000 documents), so it passes; every other filter must have an index scan as its winning plan, and
a sort must not fetch the whole collection.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener, CommandStartedEvent

from huying import mongo as huying_mongo

READS = {"find", "count", "distinct", "aggregate"}
WRITES = {"update", "delete", "findAndModify"}


@dataclass(frozen=True)
class Query:
    database: str
    collection: str
    command: str
    filter: dict[str, Any]
    sort: dict[str, Any] | None = None

    def shape(self) -> str:
        """Field names and operators, values dropped: one explain per distinct shape."""
        return json.dumps([self.database, self.collection, _shape(self.filter), _shape(self.sort or {})])

    def __str__(self) -> str:
        sort = f" sort {_render(self.sort)}" if self.sort else ""
        return f"{self.collection}.{self.command}({_render(_shape(self.filter))}){sort}"


def _render(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return str(value)


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]] if value and isinstance(value[0], dict) else "[…]"
    return "·"


@dataclass
class Recorder(CommandListener):
    queries: list[Query] = field(default_factory=list)

    def started(self, event: CommandStartedEvent) -> None:
        command = event.command_name
        body = event.command
        if command not in READS | WRITES:
            return
        collection = body.get(command)
        if not isinstance(collection, str):
            return
        for found in _queries(command, body):
            self.queries.append(Query(event.database_name, collection, command, *found))

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass

    def in_database(self, database: str) -> list[Query]:
        return [q for q in self.queries if q.database == database]


def _queries(command: str, body: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    if command == "find":
        yield dict(body.get("filter") or {}), dict(body["sort"]) if body.get("sort") else None
    elif command in {"count", "distinct"}:
        yield dict(body.get("query") or {}), None
    elif command == "aggregate":
        pipeline = body.get("pipeline") or []
        match = dict(pipeline[0]["$match"]) if pipeline and "$match" in pipeline[0] else {}
        sort = dict(pipeline[1]["$sort"]) if len(pipeline) > 1 and "$sort" in pipeline[1] else None
        yield match, sort
    elif command == "findAndModify":
        yield dict(body.get("query") or {}), dict(body["sort"]) if body.get("sort") else None
    elif command == "update":
        for update in body.get("updates") or []:  # PyMongo sends updates of a bulk write as a document sequence
            yield dict(update.get("q") or {}), None
    elif command == "delete":
        for delete in body.get("deletes") or []:
            yield dict(delete.get("q") or {}), None


@contextlib.contextmanager
def recording() -> Iterator[Recorder]:
    """Every client `huying.mongo.make_mongo_client` makes meanwhile reports its commands to the recorder."""
    recorder = Recorder()
    huying_mongo.LISTENERS.append(recorder)
    try:
        yield recorder
    finally:
        huying_mongo.LISTENERS.remove(recorder)


def _by_primary_key(query_filter: dict[str, Any]) -> bool:
    key = query_filter.get("_id")
    if key is None:
        return False
    if isinstance(key, dict):
        return set(key) <= {"$eq", "$in"}
    return True


def _stages(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for name in ("inputStage", "queryPlan"):
        if isinstance(plan.get(name), dict):
            yield from _stages(plan[name])
    for child in plan.get("inputStages") or []:
        yield from _stages(child)


async def plan_of(client: AsyncMongoClient, query: Query) -> dict[str, Any]:
    command: dict[str, Any] = {"find": query.collection, "filter": query.filter}
    if query.sort:
        command["sort"] = query.sort
    explained = await client[query.database].command("explain", command)
    return explained["queryPlanner"]["winningPlan"]


async def scans(client: AsyncMongoClient, recorder: Recorder, *, database: str) -> list[str]:
    """The recorded query shapes of `database` that the server would answer with a collection scan."""
    found: list[str] = []
    seen: set[str] = set()
    for query in recorder.in_database(database):
        if query.shape() in seen:
            continue
        seen.add(query.shape())
        if _by_primary_key(query.filter):
            continue
        if query.command == "count" and not query.filter:
            continue  # estimated_document_count: MongoDB answers it from metadata (RECORD_STORE_FAST_COUNT)
        stages = list(_stages(await plan_of(client, query)))
        if any(stage.get("stage") == "COLLSCAN" for stage in stages):
            found.append(f"{query} scans {database}.{query.collection}")
    return found


def shapes(recorder: Recorder, *, database: str) -> list[str]:
    """Distinct query shapes recorded for `database` (what a test covered)."""
    return sorted({str(q) for q in recorder.in_database(database)})
