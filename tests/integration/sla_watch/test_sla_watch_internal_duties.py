"""Internal duty clocks of seed 000 over real Kafka and the database, on the fast policy (1 policy minute = 1 s):
every ticket, whatever its tier, owes a progress note every 30 minutes (rule 4)."""

from __future__ import annotations

import asyncio

import pytest

from huying.events import ProgressNoted
from tests.integration.sla_watch.conftest import running, tickets_topic
from tests.integration.sla_watch.support import now, opened, seconds, uid
from tests.support.kafka import produce

pytestmark = pytest.mark.integration


async def test_a_bronze_ticket_owes_an_internal_note_every_30_minutes(infra, sla_settings, tap) -> None:
    ticket = f"T-IP-{uid()}"
    async with running(sla_settings):
        t0 = now()
        await produce(
            infra.kafka_bootstrap,
            tickets_topic(sla_settings),
            opened(ticket, t0, tier="bronze"),  # bronze: no customer cadence (表73 "按需")
            ProgressNoted(ticket_id=ticket, occurred_at=seconds(5, t0), note="查线中", producer="test"),
        )
        await tap.wait_for(ticket, "SlaBreached", "internal_progress", seq=2, timeout=60)
        await asyncio.sleep(1)

    assert len(tap.of(ticket, "SlaMet", "internal_progress", seq=1)) == 1  # the note kept the first one
    (warning,) = tap.of(ticket, "SlaWarning", "internal_progress", seq=2)  # the handling team is warned
    (breach,) = tap.of(ticket, "SlaBreached", "internal_progress", seq=2)  # and the miss is marked, once
    assert abs((warning.occurred_at - seconds(5 + 24, t0)).total_seconds()) < 0.01
    assert abs((breach.occurred_at - seconds(5 + 30, t0)).total_seconds()) < 0.01
    assert tap.of(ticket, None, "progress") == []  # the customer cadence of 表73 stays out of it
    assert tap.duplicates() == {}
