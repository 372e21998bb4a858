"""reporting's store on the real database: concurrent writers of one ticket's facts lose nothing and apply nothing
twice; outcomes arriving out of order keep the newest."""

from __future__ import annotations

import asyncio

import bson
import pytest

from huying.events import QualityBudgetExceeded, QualityBudgetWarning
from reporting import store
from reporting.domain.entries import entry_of
from reporting.store import apply_notification, apply_quality_event, apply_ticket_event
from tests.unit.reporting.builders import failed, gold_fault, minutes, sent

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(mongo, names):
    database = mongo[names.database("reporting")]
    yield database
    await mongo.drop_database(database.name)


async def test_concurrent_events_of_one_ticket_are_each_applied_once(db) -> None:
    events = gold_fault("T-RACE")
    results = await asyncio.gather(*[apply_ticket_event(db, "T-RACE", e) for e in events + events + events])
    assert sum(results) == len(events)  # every event applied once, each copy refused
    doc = await db.ticket_facts.find_one({"_id": "T-RACE"})
    assert (doc["version"], sorted(doc["applied"])) == (len(events), sorted(str(e.event_id) for e in events))
    facts = {k: v for k, v in doc.items() if k not in ("log", "applied", "version", "_id", "ticket_id")}
    assert facts == stored(store.document([entry_of(e) for e in events]))  # the fold of the events, once each


def stored(doc: dict) -> dict:
    """A document as the database gives it back."""
    return bson.decode(bson.encode(doc), codec_options=bson.CodecOptions(tz_aware=True))


async def test_a_late_older_outcome_does_not_undo_a_newer_one(db) -> None:
    assert await apply_notification(db, sent("N-1", "T", at=130, attempts=2))
    assert not await apply_notification(db, failed("N-1", "T", at=125, attempts=1))  # older: changes nothing
    assert not await apply_notification(db, sent("N-1", "T", at=130, attempts=2))  # the same again: nothing
    doc = await db.notification_outcomes.find_one({"_id": "N-1"})
    assert (doc["outcome"], doc["attempts"], doc["error"]) == ("sent", 2, None)


async def test_an_excess_is_not_undone_by_a_later_warning(db) -> None:
    common = {"service_line_id": "L-1", "year": 2026, "measure": "outage_hours", "budget": 6.0}
    assert await apply_quality_event(db, QualityBudgetExceeded(**common, used=6.5, occurred_at=minutes(60)))
    assert not await apply_quality_event(db, QualityBudgetWarning(**common, used=4.8, occurred_at=minutes(90)))
    doc = await db.line_quality.find_one({"_id": "L-1|2026|outage_hours"})
    assert (doc["state"], doc["used"]) == ("exceeded", 6.5)
