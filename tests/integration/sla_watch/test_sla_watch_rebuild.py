"""sla-watch's ticket state is a read model of `huying.tickets.v1` (sla_watch/replaying.py): a wiped database is
rebuilt from the topic under a new group epoch, document for document, with firing held until the replay is through
— nothing new goes out on `huying.sla.v1`, and a ticket resolved in time long ago does not breach in between."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from huying.events import TicketResolved
from huying.rebuild import end_offsets, read_models_ready, replica_of
from tests.integration.sla_watch.conftest import running, sla_topic, tickets_topic
from tests.integration.sla_watch.support import dispatched, now, opened, seconds, uid
from tests.support.kafka import produce, wait_until

pytestmark = pytest.mark.integration

# Bookkeeping that is not derived from the ticket log, left out of the comparison:
# - `purge_after` (clocks, timers): a settled ticket is kept `retention_days` after the moment it was *handled*;
# - `fired` (timers): ids this database saw fired; a replay re-fires only what is still pending (a breach of a
#   ticket resolved since was fired before and is not again), so the rebuilt set is a subset of the original;
# - `timers` and `next_due` (timers) hold the derived timers less those fired *when the ticket's last event was
#   written* (a replay writes them before its hold lets anything fire): compared as what a load would schedule,
#   the stored timers less the fired ones, and less warnings whose deadline has passed by the comparison (a
#   warning is derived only while its deadline is ahead: one written before it passed, one replayed after not).
IGNORED = {"clocks": {"purge_after"}, "timers": {"purge_after", "fired", "next_due"}, "line_faults": set()}


async def test_a_wiped_database_is_rebuilt_from_the_ticket_topic_identically(infra, sla_settings, tap, mongo) -> None:
    tag, t0 = uid(), now()
    long_ago = seconds(-300, t0)  # fast policy: a second is a policy minute
    resolved_in_time, breached, open_far, settled_late = (f"T-RB{n}-{tag}" for n in range(4))
    history = [
        # reported 300 s ago, restored 250 s ago (its restore deadline, 180 s ago, was kept): never a breach
        opened(resolved_in_time, long_ago, service_line_id=f"L-{tag}"),
        dispatched(resolved_in_time, seconds(10, long_ago)),
        TicketResolved(
            ticket_id=resolved_in_time,
            occurred_at=seconds(50, long_ago),
            cause="光缆中断",
            restored_at=seconds(50, long_ago),
        ),
        # reported 200 s ago (restore deadline 80 s ago: breaches at once, stays open), but opened and dispatched 5 min
        # ahead, so its clocks that run from the opening (internal progress, contact) stay pending through the test
        opened(breached, seconds(300, t0), reported=-500),
        dispatched(breached, seconds(300, t0)),
        # opened and dispatched 5 min ahead (clock skew): every timer — the internal progress clock from the opening
        # too — stays pending through the test, however slow the machine
        opened(open_far, seconds(300, t0)),
        dispatched(open_far, seconds(300, t0), "gz-access-ops", "gz-core"),
        opened(settled_late, t0, reported=-250, service_line_id=f"L-{tag}"),  # breached, then resolved
        dispatched(settled_late, t0),
    ]
    tickets = [resolved_in_time, breached, open_far, settled_late]
    versions = {resolved_in_time: 3, breached: 2, open_far: 2, settled_late: 3}
    db = mongo[sla_settings.database_name]

    # its events are in the topic before sla-watch first starts: its first start replays them, held too
    await produce(infra.kafka_bootstrap, tickets_topic(sla_settings), *history[:3])
    async with running(sla_settings) as app:
        first = replica_of(app.state.runtime, "tickets")
        await produce(infra.kafka_bootstrap, tickets_topic(sla_settings), *history[3:])
        await tap.wait_for(breached, "SlaBreached", "restore")
        await tap.wait_for(settled_late, "SlaBreached", "restore")
        late = seconds(-110, t0)  # 20 s after its restore deadline; its feedback clock is overdue too
        later = TicketResolved(ticket_id=settled_late, occurred_at=late, cause="光缆中断", restored_at=late)
        await produce(infra.kafka_bootstrap, tickets_topic(sla_settings), later)
        await wait_until(lambda: _settled(db, app, versions), timeout=30)
        before = await _snapshot(db, tickets)
    published = await _all_seen(infra, sla_settings, tap)

    await mongo.drop_database(sla_settings.database_name)
    async with running(sla_settings) as app:
        runtime = app.state.runtime
        again = replica_of(runtime, "tickets")
        await wait_until(lambda: _caught_up(runtime), timeout=30)
        await wait_until(lambda: _settled(db, app, versions), timeout=30)
        # the breach still pending is fired again once caught up: late, under its id
        await wait_until(lambda: _breaches(tap, breached, 2), timeout=15)
        await wait_until(lambda: _settled(db, app, versions), timeout=15)
        after = await _snapshot(db, tickets)
    replayed = await _all_seen(infra, sla_settings, tap)

    assert again.epoch != first.epoch and again.group == f"{sla_settings.group_id}.{again.epoch}"
    for name, ignored in IGNORED.items():
        assert _without(after[name], ignored) == _without(before[name], ignored), name
    for ticket, doc in after["timers"].items():
        assert set(doc.get("fired", ())) <= set(before["timers"][ticket].get("fired", ())), ticket
    new = {s.event_id for s in replayed} - {s.event_id for s in published}
    assert not new, [(s.type, s.body.get("ticket_id"), s.body.get("clock")) for s in replayed if s.event_id in new]
    assert not tap.of(resolved_in_time, "SlaBreached", "restore"), "fired between its replayed opening and resolution"
    refired = tap.of(breached, "SlaBreached", "restore")
    assert len(refired) == 2 and refired[0].event_id == refired[1].event_id
    assert refired[1].body.get("late_by_seconds"), refired[1].body


async def _settled(db: Any, app: Any, versions: dict[str, int]) -> bool:
    """Every ticket's ledger at its version, no outbox left, nothing due within the test, fired ids written."""
    watch = app.state.runtime.broker.context.get("sla_watch")
    docs = {d["_id"]: d async for d in db.clocks.find({"_id": {"$in": list(versions)}})}
    if any(docs.get(t, {}).get("version") != v or docs[t].get("outbox") for t, v in versions.items()):
        return False
    due = watch.scheduler.next_due()
    return (
        (due is None or due > now() + timedelta(seconds=40)) and not watch.scheduler.held and await watch.fired.flush()
    )


async def _breaches(tap: Any, ticket: str, n: int) -> bool:
    return len(tap.of(ticket, "SlaBreached", "restore")) >= n


async def _caught_up(runtime: Any) -> bool:
    return (await read_models_ready(runtime)).get("tickets_caught_up") is True


async def _snapshot(db: Any, tickets: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in IGNORED:
        out[name] = {d["_id"]: d async for d in db[name].find({"_id": {"$in": tickets}})}
    return out


def _without(docs: dict[str, Any], ignored: set[str]) -> dict[str, Any]:
    return {k: {f: v for f, v in _pending(d).items() if f not in ignored} for k, d in docs.items()}


def _pending(doc: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(doc.get("timers"), list):
        return doc
    fired, cutoff = set(doc.get("fired", ())), now()
    stale = {"warning", "progress_due"}
    return {
        **doc,
        "timers": [
            t
            for t in doc["timers"]
            if t["timer_id"] not in fired
            and not (t["kind"] in stale and datetime.fromisoformat(t["deadline"]) <= cutoff)
        ],
    }


async def _all_seen(infra: Any, settings: Any, tap: Any) -> list[Any]:
    """What the tap saw once it read `huying.sla.v1` to its end."""
    ends = await end_offsets(infra.kafka_bootstrap, [sla_topic(settings)])
    deadline = time.monotonic() + 15
    while len(tap.seen) < sum(ends.values()):
        assert time.monotonic() < deadline, f"tap saw {len(tap.seen)} of {sum(ends.values())}"
        await asyncio.sleep(0.05)
    return list(tap.seen)
