"""Rebuild from the log, the pure part: when a database does not reflect its group's offsets, when a replay has
caught up, and what a batch of records moves the recorded positions to."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from huying.crm_replica import crm_model
from huying.rebuild import caught_up, new_epoch, positions_of, staleness
from huying.settings import ServiceSettings
from huying.topics import Topics

pytestmark = pytest.mark.unit

DOC = {"_id": "crm", "epoch": "e1", "group_id": "huying-x.crm.e1"}
CRM = "huying.crm.v1"


def test_a_database_that_does_not_say_what_it_reflects_is_stale() -> None:
    assert "empty, wiped or new" in staleness(None, committed={}, recorded={}, model_empty=True)
    assert staleness(None, committed={}, recorded={}, model_empty=False) is not None  # pointed at a filled one


def test_a_database_behind_the_committed_offsets_is_stale_naming_the_partitions() -> None:
    reason = staleness(
        DOC, committed={(CRM, 0): 40, (CRM, 1): 7}, recorded={(CRM, 0): 12, (CRM, 1): 7}, model_empty=False
    )
    assert reason is not None and "huying-x.crm.e1" in reason and f"{CRM}[0]" in reason and f"{CRM}[1]" not in reason
    assert "backup" in reason
    never_recorded = staleness(DOC, committed={(CRM, 2): 1}, recorded={}, model_empty=False)
    assert never_recorded is not None


def test_a_database_at_or_ahead_of_the_committed_offsets_is_current() -> None:
    # recorded before the commit: a crash in between leaves the database ahead, which replays a little, harmlessly
    assert staleness(DOC, committed={(CRM, 0): 12}, recorded={(CRM, 0): 15}, model_empty=False) is None
    assert staleness(DOC, committed={}, recorded={}, model_empty=True) is None  # a new epoch, nothing read yet


def test_emptied_collections_with_recorded_positions_are_stale() -> None:
    assert "empty" in staleness(DOC, committed={}, recorded={(CRM, 0): 5}, model_empty=True)


def test_caught_up_once_every_partition_that_had_records_reaches_its_end_offset_at_start() -> None:
    target = {(CRM, 0): 10, (CRM, 2): 3}
    assert not caught_up(target, {(CRM, 0): 10})
    assert not caught_up(target, {(CRM, 0): 9, (CRM, 2): 3})
    assert caught_up(target, {(CRM, 0): 10, (CRM, 2): 4, (CRM, 1): 1})
    assert caught_up({}, {})  # an empty topic: nothing to replay


def test_positions_are_the_next_offset_after_each_partitions_last_record() -> None:
    records = [SimpleNamespace(topic=CRM, partition=p, offset=o) for p, o in ((0, 4), (1, 9), (0, 7), (0, 5))]
    assert positions_of(records) == {(CRM, 0): 8, (CRM, 1): 10}


def test_epochs_are_time_stamped_and_never_repeat() -> None:
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    epochs = {new_epoch(at) for _ in range(50)}
    assert len(epochs) == 50 and all(e.startswith("20260302T010000Z-") for e in epochs)


def test_the_crm_replica_reads_under_the_services_crm_group_plus_epoch() -> None:
    settings = ServiceSettings(service_name="notify", topic_prefix="p.")
    model = crm_model(settings, Topics("p."))
    assert (model.topics, model.collections) == (("p.huying.crm.v1",), ("customers", "service_lines"))
    assert model.group("e7") == "p.huying-notify.crm.e7"
    assert crm_model(settings, Topics("p."), group_id="g.crm").group("e7") == "g.crm.e7"
