"""Synthetic ticket facts for bench_reporting: a province's year (Guangdong's 21 cities, 30 teams, the four tiers, the
contracts' two categories), folded by reporting's own code from events built like the tests' (tests.unit.reporting
.builders), so a document has the shape, size and KPI contributions of a real one.

Folding a million tickets would take the machine most of an hour, so a few thousand templates are folded and each
fact is a template with its own id, report time (and the periods derived from it), city and teams: every field a KPI
query reads or groups by is the fact's own."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from huying.events import Event, SlaMet
from reporting import store
from reporting.domain.entries import entry_of
from reporting.domain.facts import SHANGHAI
from tests.unit.reporting import builders as b

CITIES = (
    "广州", "深圳", "珠海", "汕头", "佛山", "韶关", "湛江", "肇庆", "江门", "茂名", "惠州", "梅州", "汕尾", "河源",
    "阳江", "清远", "东莞", "中山", "潮州", "揭阳", "云浮",
)  # fmt: skip
# One access-line team per city, and an overlay (voice, VPN, group SMS) team in the nine busiest: 30 teams.
OVERLAY_CITIES = ("广州", "深圳", "佛山", "东莞", "珠海", "中山", "惠州", "江门", "汕头")
# 广州's access team is the one of make run's demo users (reporting/config/users.yaml), so they see its queue.
ACCESS_TEAM = {city: f"c{i:02d}-access-ops" for i, city in enumerate(CITIES)} | {"广州": "gz-access-ops"}
OVERLAY_TEAM = {city: f"c{CITIES.index(city):02d}-overlay-ops" for city in OVERLAY_CITIES}
TEAMS = sorted([*ACCESS_TEAM.values(), *OVERLAY_TEAM.values()])
# Tickets per city roughly as the cities' enterprise bases; tiers as a province's customer mix (our assumption).
CITY_WEIGHTS = [14, 14, 3, 3, 8, 2, 3, 2, 3, 2, 4, 2, 1, 1, 1, 2, 9, 3, 1, 2, 1]
TIERS, TIER_WEIGHTS = ("gold", "silver", "bronze", "standard"), (10, 25, 35, 30)
CAUSES = ("operator_equipment", "operator_work", "customer_side", "interconnection", "third_party", "not_a_fault")
CAUSE_WEIGHTS = (60, 10, 12, 8, 5, 5)
TEMPLATE_TEAM = ("tpl-a", "tpl-b")


def _met(ticket_id: str, clock: str, *, at: float, due: float, seq: int = 1, subject: str | None = None,
         counted: bool = True) -> SlaMet:  # fmt: skip
    """builders.met for any time (its elapsed seconds count from the builders' T0, so it refuses earlier times)."""
    return SlaMet(event_id=uuid.uuid5(b.NS, f"{ticket_id}|{clock}|{seq}|{subject}|met"), ticket_id=ticket_id,
                  clock=clock, seq=seq, subject=subject, policy_version="2026.1", producer="sla-watch",
                  deadline=b.minutes(due), stopped_at=b.minutes(at), elapsed_seconds=60.0, counted=counted,
                  occurred_at=b.minutes(at))  # fmt: skip


def _at(when: datetime) -> float:
    """A time as the builders take it: minutes after their T0."""
    return (when - b.T0).total_seconds() / 60


def closed_ticket(rng: random.Random, ticket_id: str, *, reported: datetime, tier: str, category: str,
                  teams: tuple[str, ...]) -> list[Event]:  # fmt: skip
    """A ticket's whole life with random outcomes: dispatched, accepted per team, contact, progress notes, restored
    (or not in time) with a cause, closed (or cancelled), often rated."""
    t = _at(reported)
    ok = lambda p: rng.random() < p  # noqa: E731
    events: list[Event] = [b.opened(ticket_id, at=t, tier=tier, category=category, city="-"),
                           b.dispatched(ticket_id, *teams, at=t + 1)]  # fmt: skip
    for team in teams:
        events.append(b.started(ticket_id, "acceptance", at=t + 1, due=t + 11, subject=team))
        if ok(0.85):
            events += [b.accepted(ticket_id, team, at=t + 5),
                       _met(ticket_id, "acceptance", at=t + 5, due=t + 11, subject=team)]  # fmt: skip
        else:
            events += [b.breached(ticket_id, "acceptance", due=t + 11, subject=team),
                       b.accepted(ticket_id, team, at=t + 14)]  # fmt: skip
    events.append(b.started(ticket_id, "contact", at=t + 1, due=t + 16))
    events.append(_met(ticket_id, "contact", at=t + 9, due=t + 16) if ok(0.9) else
                  b.breached(ticket_id, "contact", due=t + 16))  # fmt: skip
    for seq in range(1, rng.randint(1, 4)):
        due = t + 30 * seq
        events.append(b.started(ticket_id, "internal_progress", at=due - 30, due=due, seq=seq))
        events.append(_met(ticket_id, "internal_progress", at=due - 3, due=due, seq=seq) if ok(0.9) else
                      b.breached(ticket_id, "internal_progress", due=due, seq=seq))  # fmt: skip
    if tier in ("gold", "silver"):
        every = 30 if tier == "gold" else 60
        for seq in range(1, rng.randint(1, 3)):
            due = t + every * seq
            events.append(b.started(ticket_id, "progress", at=due - every, due=due, seq=seq))
            events.append(_met(ticket_id, "progress", at=due - 5, due=due, seq=seq) if ok(0.92) else
                          b.breached(ticket_id, "progress", due=due, seq=seq))  # fmt: skip
    if ok(0.02):
        return [*events, b.cancelled(ticket_id, at=t + 20)]
    limit = {"gold": 240, "silver": 360, "bronze": 480, "standard": 720}[tier]
    restored = t + rng.uniform(20, limit * 1.4)
    cause = rng.choices(CAUSES, CAUSE_WEIGHTS)[0]
    operator = cause in ("operator_equipment", "operator_work")
    events.append(b.started(ticket_id, "restore", at=t, due=t + limit))
    if ok(0.03):
        events.append(b.severe(ticket_id, at=t + 30))
    if ok(0.15):
        events += [b.suspended(ticket_id, at=t + 10), b.resumed(ticket_id, at=t + 10 + rng.uniform(5, 60))]
    events.append(b.resolved(ticket_id, restored=restored, cause=cause))
    events.append(_met(ticket_id, "restore", at=restored, due=t + limit, counted=operator) if restored <= t + limit
                  else b.breached(ticket_id, "restore", due=t + limit, counted=operator))  # fmt: skip
    events.append(b.started(ticket_id, "feedback", at=restored, due=restored + 30))
    events.append(_met(ticket_id, "feedback", at=restored + 12, due=restored + 30) if ok(0.9) else
                  b.breached(ticket_id, "feedback", due=restored + 30))  # fmt: skip
    if rng.random() < 0.97:
        events.append(b.closed(ticket_id, at=restored + 60))
        if ok(0.6):
            events.append(b.satisfaction(ticket_id, ok(0.93), at=restored + 300))
    return events


def open_ticket(rng: random.Random, ticket_id: str, *, now: datetime, city: str, tier: str, team: str) -> list[Event]:
    """A ticket still being worked on at `now`: reported up to four hours ago, its acceptance and restore clocks
    running (or accepted already), a quarter without a team yet (just opened)."""
    t = _at(now) - rng.uniform(0, 240)
    events: list[Event] = [b.opened(ticket_id, at=t, tier=tier, category=rng.choice(("access", "overlay")), city=city)]
    limit = {"gold": 240, "silver": 360, "bronze": 480, "standard": 720}[tier]
    events.append(b.started(ticket_id, "restore", at=t, due=t + limit))
    if rng.random() < 0.25:
        return events
    events += [b.dispatched(ticket_id, team, at=t + 1), b.started(ticket_id, "acceptance", at=t + 1, due=t + 11,
                                                                  subject=team)]  # fmt: skip
    if rng.random() < 0.6:
        events += [b.accepted(ticket_id, team, at=t + 5), _met(ticket_id, "acceptance", at=t + 5, due=t + 11,
                                                                subject=team)]  # fmt: skip
    elif t + 11 < _at(now):  # sla-watch has said so: an overdue clock is not running any more
        events.append(b.breached(ticket_id, "acceptance", due=t + 11, subject=team))
    for seq in range(1, int((_at(now) - t) // 30) + 2):  # the internal progress note due every 30 minutes
        due = t + 30 * seq
        events.append(b.started(ticket_id, "internal_progress", at=due - 30, due=due, seq=seq))
        if due < _at(now):
            events.append(_met(ticket_id, "internal_progress", at=due - 2, due=due, seq=seq))
    return events


def document(events: list[Event], ticket_id: str) -> dict[str, Any]:
    """The facts document reporting writes for these events (store.document, with its log and applied ids)."""
    log = [entry_of(e) for e in events]
    return {"_id": ticket_id, "ticket_id": ticket_id, "version": len(events), "applied": [e["id"] for e in log],
            "log": log, **store.document(log)}  # fmt: skip


def templates(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """`count` folded tickets over the tiers, categories and one or two teams, reported at the builders' T0."""
    out = []
    for i in range(count):
        tier = TIERS[i % 4]
        teams = TEMPLATE_TEAM[: 1 + (rng.random() < 0.12)]
        events = closed_ticket(rng, f"TPL-{i}", reported=b.T0, tier=tier, category=("access", "overlay")[i // 4 % 2],
                               teams=teams)  # fmt: skip
        out.append(document(events, f"TPL-{i}"))
    return out


def periods(reported: datetime) -> dict[str, Any]:
    local = reported.astimezone(SHANGHAI)
    quarter = f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    return {"day": f"{local:%Y-%m-%d}", "month": f"{local:%Y-%m}", "quarter": quarter, "year": f"{local.year}"}


def clone(template: dict[str, Any], ticket_id: str, *, reported: datetime, city: str, teams: list[str]) -> dict:
    """The template as another ticket: its id, report time and periods, city and teams (with their shares)."""
    names = dict(zip(TEMPLATE_TEAM, teams, strict=False))
    doc = dict(template)
    doc.update(_id=ticket_id, ticket_id=ticket_id, reported_at=reported, opened_at=reported, city=city,
               outage_started_at=reported, quality_year=reported.astimezone(SHANGHAI).year, **periods(reported),
               customer_id=f"C-{city}-{hash(ticket_id) % 500}", service_line_id=f"L-{ticket_id}",
               teams=[names[t] for t in template["teams"]],
               by_team=[{**s, "team": names.get(s["team"], s["team"])} for s in template["by_team"]])  # fmt: skip
    return doc


def year_of_facts(rng: random.Random, count: int, *, start: datetime, days: int = 365, pool: int = 2000):
    """`count` closed facts reported over `days` from `start`, in batches of 1,000 (a generator: memory stays low)."""
    folded = templates(rng, pool)
    by_tier = {tier: [t for t in folded if t["tier"] == tier] for tier in TIERS}
    span = days * 86400
    batch = []
    for i in range(count):
        city = rng.choices(CITIES, CITY_WEIGHTS)[0]
        tier = rng.choices(TIERS, TIER_WEIGHTS)[0]
        template = rng.choice(by_tier[tier])
        if template["category"] == "overlay" and city in OVERLAY_TEAM:
            teams = [OVERLAY_TEAM[city], ACCESS_TEAM[city]]
        else:
            teams = [ACCESS_TEAM[city], OVERLAY_TEAM.get(city, ACCESS_TEAM[CITIES[0]])]
        reported = start + timedelta(seconds=rng.uniform(0, span))
        batch.append(clone(template, f"T-Y-{i:07d}", reported=reported, city=city, teams=teams))
        if len(batch) == 1000:
            yield batch
            batch = []
    if batch:
        yield batch
