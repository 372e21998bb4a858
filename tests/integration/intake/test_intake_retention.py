"""intake's retention horizon is a TTL index on what it keeps, and a changed horizon reaches the existing indexes at
the next start (collMod) instead of failing it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

KEPT = {"reports": "received_at_1", "outcomes": "committed_at_1", "green_tickets": "created_at_1",
        "unverified": "created_at_1"}  # fmt: skip


async def test_the_retention_horizon_is_a_ttl_index_and_follows_the_setting(intake_settings, running, mongo) -> None:
    first = intake_settings(retention_days=30)
    async with running(first):
        pass
    db = mongo[first.database_name]
    assert {c: (await db[c].index_information())[i]["expireAfterSeconds"] for c, i in KEPT.items()} == dict.fromkeys(
        KEPT, 30 * 86400
    )
    async with running(first.model_copy(update={"retention_days": 7})):
        pass
    assert {c: (await db[c].index_information())[i]["expireAfterSeconds"] for c, i in KEPT.items()} == dict.fromkeys(
        KEPT, 7 * 86400
    )
