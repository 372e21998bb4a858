"""The topic registry and `topics apply`'s plan: every topic declared with a purpose, master data compacted and kept
forever, history kept for a closed ticket's life, and a plan that changes only what differs."""

from __future__ import annotations

import pytest

from huying.topic_admin import PROFILES, TopicState, desired, plan
from huying.topics import DAY_MS, FOREVER, HISTORY_DAYS, Topics

pytestmark = pytest.mark.unit


def test_every_topic_declares_partitions_cleanup_retention_and_purpose() -> None:
    for topic in Topics().all():
        assert topic.partitions >= 3 and topic.cleanup in ("delete", "compact") and topic.purpose
        assert topic.retention_days == FOREVER or topic.retention_days >= 3


def test_master_data_is_compacted_forever_and_history_lasts_a_closed_tickets_life() -> None:
    topics = Topics()
    assert (topics.crm.cleanup, topics.crm.retention_ms) == ("compact", FOREVER)
    for history in (topics.tickets, topics.sla, topics.notifications):
        assert history.cleanup == "delete" and history.retention_ms == HISTORY_DAYS * DAY_MS


def test_the_plan_for_an_empty_cluster_creates_every_topic_and_its_dead_letter_topic() -> None:
    wanted = desired(Topics("t1."), PROFILES["local"])
    actions = plan(wanted, {})
    assert [a.kind for a in actions] == ["create"] * 12
    names = {a.topic for a in actions}
    assert "t1.huying.crm.v1" in names and "t1.huying.crm.v1.dlq" in names
    crm = next(w for w in wanted if w.name == "t1.huying.crm.v1")
    assert crm.configs["cleanup.policy"] == "compact" and crm.configs["retention.ms"] == "-1"
    assert crm.configs["retention.bytes"] == "-1" and crm.partitions == 3 and crm.replication_factor == 1


def test_a_cluster_that_matches_needs_nothing_and_a_drifted_setting_is_put_back() -> None:
    wanted = desired(Topics(), PROFILES["local"])
    have = {w.name: TopicState(w.name, w.partitions, w.replication_factor, {**w.configs, "other": "x"}) for w in wanted}
    assert plan(wanted, have) == []
    drifted = dict(have)
    drifted["huying.crm.v1"] = TopicState(
        "huying.crm.v1", 3, 1, {**have["huying.crm.v1"].configs, "cleanup.policy": "delete"}
    )
    [action] = plan(wanted, drifted)
    assert (action.kind, action.topic) == ("configure", "huying.crm.v1")
    assert "cleanup.policy=delete → cleanup.policy=compact" in action.detail


def test_partitions_are_only_ever_added_and_replication_is_reported_not_changed() -> None:
    wanted = [w for w in desired(Topics(), PROFILES["production"]) if w.name == "huying.tickets.v1"]
    want = wanted[0]
    assert (want.partitions, want.replication_factor, want.configs["min.insync.replicas"]) == (12, 3, "2")
    fewer = {want.name: TopicState(want.name, 6, 3, dict(want.configs))}
    assert [(a.kind, a.detail) for a in plan(wanted, fewer)] == [("add_partitions", "6 → 12 partitions")]
    more = {want.name: TopicState(want.name, 24, 1, dict(want.configs))}
    kinds = [a.kind for a in plan(wanted, more)]
    assert kinds == ["warn", "warn"]
