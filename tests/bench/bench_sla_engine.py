"""Benchmark of the SLA engine: replay throughput and the memory of 1,000,000 clock states.

Run: .venv/bin/python tests/bench/bench_sla_engine.py [--tickets N] [--states N]
Prints plain `name: value unit` lines. Pure CPU and memory; no broker or database involved.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from huying.events import (
    Category,
    Channel,
    CustomerContacted,
    ExclusionKind,
    ExclusionRecorded,
    FaultReportSubmitted,
    ProgressNoted,
    RestorationConfirmed,
    Scope,
    TicketAccepted,
    TicketClosed,
    TicketDispatched,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketResumed,
    TicketSuspended,
    Tier,
)
from sla_watch.domain import ClockState, pending_timers, replay, transitions
from sla_watch.policy_loader import load_calendar, load_policy

START = datetime(2026, 3, 2, tzinfo=UTC)
TIERS = [Tier.GOLD] * 10 + [Tier.SILVER] * 20 + [Tier.BRONZE] * 30 + [Tier.STANDARD] * 40
SCOPES = [Scope.INTRA_CITY] * 70 + [Scope.INTER_CITY] * 20 + [Scope.INTER_PROVINCE] * 10


def ticket_events(rng: random.Random, n: int) -> list:
    """One ticket's life, as the dispatch service would publish it (a realistic mix, minutes apart)."""
    tid, tier = f"T-{n:08d}", rng.choice(TIERS)
    t = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 300))

    def at(minutes: float) -> datetime:
        return t + timedelta(minutes=minutes)

    common = {"ticket_id": tid}
    channel = Channel.GREEN_CHANNEL if tier is Tier.GOLD and rng.random() < 0.1 else Channel.HOTLINE
    events = [
        TicketOpened(
            **common,
            occurred_at=at(0),
            source_system="cc",
            external_id=tid,
            channel=channel,
            tier=tier,
            scope=rng.choice(SCOPES),
            category=rng.choice(list(Category)),
            reported_at=at(0),
            alarm_at=at(-rng.randrange(0, 5)) if rng.random() < 0.3 else None,
            full_outage=rng.random() < 0.2,
        )
    ]
    teams = ["ops-a"] if rng.random() < 0.8 else ["ops-a", "ops-b"]
    events.append(TicketDispatched(**common, occurred_at=at(2), teams=teams))
    events += [TicketAccepted(**common, occurred_at=at(2 + rng.uniform(1, 14)), team=team) for team in teams]
    events.append(CustomerContacted(**common, occurred_at=at(12), contacted_at=at(rng.uniform(5, 20)), method="phone"))
    restore = rng.uniform(30, 500)
    minute = 0.0
    while (minute := minute + rng.uniform(20, 70)) < restore:
        events.append(ProgressNoted(**common, occurred_at=at(minute), note="抢修中", customer_informed=True))
    if rng.random() < 0.2:
        events += [
            TicketSuspended(
                **common, occurred_at=at(restore / 3), reason="客户断电", consent_by="王", approved_by="sup"
            ),
            TicketResumed(**common, occurred_at=at(restore / 2)),
        ]
    if rng.random() < 0.1:
        events.append(
            ExclusionRecorded(
                **common,
                occurred_at=at(restore),
                kind=ExclusionKind.INTERCONNECTION,
                start=at(10),
                end=at(25),
                reason="对端",
            )
        )
    events += [
        TicketResolved(**common, occurred_at=at(restore + 1), cause="光缆", restored_at=at(restore)),
        RestorationConfirmed(**common, occurred_at=at(restore + rng.uniform(5, 40)), method="customer"),
        TicketClosed(**common, occurred_at=at(restore + 60)),
    ]
    if rng.random() < 0.05:
        events += [
            TicketReopened(**common, occurred_at=at(restore + 120), reason="仍无法访问"),
            TicketResolved(**common, occurred_at=at(restore + 200), cause="光缆", restored_at=at(restore + 199)),
            RestorationConfirmed(**common, occurred_at=at(restore + 210), method="customer"),
        ]
    if tier is Tier.GOLD:
        events.append(FaultReportSubmitted(**common, occurred_at=at(restore + 60 * 30), document_ref="FR"))
    return events


def bench_replay(tickets: list[list], policy, calendar) -> None:
    events = sum(len(t) for t in tickets)
    began = time.perf_counter()
    for history in tickets:
        replay(history, policy=policy, calendar=calendar)
    full = time.perf_counter() - began
    print(f"replay_tickets: {len(tickets)} tickets, {events} events ({events / len(tickets):.1f} per ticket)")
    print(f"replay_full_ledger: {events / full:,.0f} events/s ({len(tickets) / full:,.0f} tickets/s)")

    # sla-watch's real pattern: on each arriving event, replay the ledger so far, diff it, recompute timers.
    sample = tickets[: max(1, len(tickets) // 10)]
    sample_events = sum(len(t) for t in sample)
    began = time.perf_counter()
    for history in sample:
        before = None
        for i in range(1, len(history) + 1):
            after = replay(history[:i], policy=policy, calendar=calendar)
            transitions(before, after)
            pending_timers(after, now=history[i - 1].occurred_at)
            before = after
    step = time.perf_counter() - began
    print(f"per_event_replay_diff_timers: {sample_events / step:,.0f} events/s (ledger replayed on every event)")


def bench_memory(templates: list[ClockState], count: int) -> None:
    # Every state gets its own datetimes and floats, as if loaded from the database; nothing is shared.
    gc.collect()
    rss_before = _rss()
    began = time.perf_counter()
    states = [_copy(templates[i % len(templates)], i) for i in range(count)]
    built = time.perf_counter() - began
    gc.collect()
    rss = _rss() - rss_before
    print(f"clock_states: {len(states):,} built in {built:.1f} s ({count / built:,.0f} states/s)")
    print(f"clock_states_rss: {rss / 2**20:,.1f} MiB, {rss / count:,.0f} bytes/state (incl. the list)")
    del states
    gc.collect()
    sample = count // 10  # tracemalloc slows allocation ~3x: an exact count on a tenth is enough
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    kept = [_copy(templates[i % len(templates)], i) for i in range(sample)]
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    print(
        f"clock_states_tracemalloc: {used / sample:,.0f} bytes/state over {len(kept):,} states "
        f"(≈ {used / sample * count / 2**20:,.0f} MiB per {count:,})"
    )


def _rss() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: peak RSS is the best the standard library offers
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _copy(s: ClockState, i: int) -> ClockState:
    shift = timedelta(microseconds=i + 1)
    d = lambda x: None if x is None else x + shift  # noqa: E731 - a fresh datetime per field
    gaps = tuple((d(a), d(b)) for a, b in s.gaps)
    return ClockState(
        s.kind,
        s.seq,
        d(s.started_at),
        s.budget_s + i % 7 + 0.5,
        d(s.deadline),
        d(s.warn_at),
        d(s.stopped_at),
        s.outcome,
        None if s.elapsed_s is None else s.elapsed_s + i % 11 + 0.5,
        gaps,
        s.subject,
        s.provisional,
        s.retroactive,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--states", type=int, default=1_000_000)
    args = parser.parse_args()
    policy, calendar = load_policy(), load_calendar()
    rng = random.Random(20260302)
    tickets = [ticket_events(rng, n) for n in range(args.tickets)]
    print(f"python: {sys.version.split()[0]}")
    bench_replay(tickets, policy, calendar)
    templates = [c for history in tickets[:2000] for c in replay(history, policy=policy, calendar=calendar).clocks]
    print(f"clocks_per_ticket: {len(templates) / 2000:.1f}")
    bench_memory(templates, args.states)


if __name__ == "__main__":
    main()
