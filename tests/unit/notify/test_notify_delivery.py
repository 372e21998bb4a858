"""Delivery, without I/O: the retry schedule (bounded, growing, jitter within its share), the circuit breaker's
state machine, and the worker's claim and outcome rules against an in-memory collection that honours the same
guarded single-document updates the real database does."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huying.clock import ManualClock
from notify.channels.base import DeliveryReport, Message, Outcome, SendResult
from notify.delivery.backoff import RetrySchedule
from notify.delivery.breaker import Breaker, BreakerState
from notify.delivery.channels import ChannelSet
from notify.delivery.gate import Verdict
from notify.delivery.worker import DeliveryConfig, Worker
from notify.domain.recipients import Audience, Person
from notify.domain.rules import Intent, NotifyChannel
from notify.policy import load_catalog
from notify.store import State, notification_doc

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 1, 15, tzinfo=UTC)
CATALOG = load_catalog()


# ---- the retry schedule -------------------------------------------------------------------------------------------
schedules = st.builds(
    RetrySchedule,
    initial=st.floats(0.01, 10),
    most=st.floats(10, 3600),
    jitter=st.floats(0, 1, exclude_max=True),
)


@given(schedules, st.integers(1, 200), st.floats(0, 1, exclude_max=True))
def test_a_wait_is_bounded_by_the_longest_and_jitter_stays_within_its_share(s: RetrySchedule, n: int, r: float):
    wait = s.wait(n, lambda: r)
    assert 0 < wait <= s.most
    assert s.ceiling(n) * (1 - s.jitter) - 1e-9 <= wait <= s.ceiling(n) + 1e-9


@given(schedules, st.integers(1, 100))
def test_the_ceiling_doubles_until_the_longest_wait(s: RetrySchedule, n: int):
    assert s.ceiling(n + 1) >= s.ceiling(n)
    assert s.ceiling(n + 1) == pytest.approx(min(s.most, 2 * s.ceiling(n))) or s.ceiling(n) == s.most


@given(schedules, st.integers(1, 50), st.floats(0, 10_000))
def test_a_gateways_retry_after_is_never_cut_short(s: RetrySchedule, n: int, asked: float):
    assert s.after(n, retry_after=asked, rand=lambda: 0.5) >= asked


def test_a_schedule_needs_sensible_numbers():
    for bad in ({"initial": 0, "most": 1}, {"initial": 2, "most": 1}, {"initial": 1, "most": 2, "jitter": 1.5}):
        with pytest.raises(ValueError):
            RetrySchedule(**bad)


# ---- the circuit breaker ------------------------------------------------------------------------------------------
def test_the_breaker_opens_after_n_consecutive_failures_and_a_success_resets_the_count():
    b = Breaker(threshold=3, cooldown=10)
    b.failure(0), b.failure(1), b.success(2), b.failure(3), b.failure(4)
    assert b.state is BreakerState.CLOSED and b.allow(4)
    b.failure(5)
    assert b.state is BreakerState.OPEN
    assert not b.allow(6) and not b.allow(14.9)


def test_after_the_cooldown_one_trial_goes_through_and_decides():
    b = Breaker(threshold=1, cooldown=10)
    b.failure(0)
    assert b.allow(10) and b.state is BreakerState.HALF_OPEN
    assert not b.allow(10.1)  # one trial at a time
    b.failure(11)
    assert b.state is BreakerState.OPEN and not b.allow(20.9)
    assert b.allow(21)
    b.success(21.5)
    assert b.state is BreakerState.CLOSED and b.allow(21.6) and b.allow(21.7)
    assert [s for _, s in b.transitions] == ["open", "half_open", "open", "half_open", "closed"]


@given(st.lists(st.sampled_from(["ok", "fail", "ask"]), max_size=60))
def test_the_breaker_never_lets_a_send_through_while_open_within_its_cooldown(ops: list[str]):
    b, now = Breaker(threshold=2, cooldown=5), 0.0
    for op in ops:
        now += 1
        if op == "ask":
            was_open_recently = b.state is BreakerState.OPEN and now - b.opened_at < 5
            allowed = b.allow(now)
            assert not (was_open_recently and allowed)
        elif op == "ok":
            b.success(now)
        else:
            b.failure(now)


# ---- the worker, on an in-memory collection -------------------------------------------------------------------------
def _matches(doc: dict, query: dict) -> bool:
    for key, cond in query.items():
        value = doc.get(key)
        if isinstance(cond, dict) and any(k.startswith("$") for k in cond):
            for op, arg in cond.items():
                if op == "$lte" and not (value is not None and value <= arg):
                    return False
                if op == "$lt" and not (value is not None and value < arg):
                    return False
                if op == "$in" and value not in arg:
                    return False
        elif isinstance(value, list) and not isinstance(cond, list):
            if cond not in value:
                return False
        elif value != cond:
            return False
    return True


class _Cursor:
    def __init__(self, docs: list[dict]) -> None:
        self.docs = docs

    def limit(self, n: int) -> _Cursor:
        return _Cursor(self.docs[:n])

    async def to_list(self) -> list[dict]:
        return [copy.deepcopy(d) for d in self.docs]


class _Done:
    def __init__(self, n: int) -> None:
        self.matched_count = self.modified_count = n


class FakeCollection:
    """The subset of a MongoDB collection the worker uses, with MongoDB's single-document update semantics."""

    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}

    def find(self, query: dict, projection: Any = None) -> _Cursor:
        return _Cursor([d for d in self.docs.values() if _matches(d, query)])

    async def find_one(self, query: dict, projection: Any = None) -> dict | None:
        found = self.find(query).docs
        return copy.deepcopy(found[0]) if found else None

    async def update_one(self, query: dict, update: dict) -> _Done:
        await asyncio.sleep(0)  # let racing workers interleave, as round trips would
        doc = next((d for d in self.docs.values() if _matches(d, query)), None)
        if doc is None:
            return _Done(0)
        for key, value in update.get("$set", {}).items():
            doc[key] = copy.deepcopy(value)
        for key in update.get("$unset", {}):
            doc.pop(key, None)
        for key, value in update.get("$inc", {}).items():
            doc[key] = doc.get(key, 0) + value
        for key, value in update.get("$push", {}).items():
            doc.setdefault(key, []).extend(value["$each"] if isinstance(value, dict) else [value])
        return _Done(1)


class FakeDb(dict):
    def __missing__(self, name: str) -> FakeCollection:
        self[name] = FakeCollection()
        return self[name]


class ScriptedChannel:
    """A channel that answers from a script (the last answer repeats) and records what it was given."""

    def __init__(self, name: str, kind: str, *answers: SendResult) -> None:
        self.name, self.kind, self.answers, self.sent = name, kind, list(answers), []
        self.reports: list[DeliveryReport] = []

    async def send(self, message: Message) -> SendResult:
        self.sent.append(message)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    async def query(self, gateway_ids: tuple[str, ...]) -> list[DeliveryReport]:
        return [r for r in self.reports if r.gateway_id in gateway_ids]

    async def close(self) -> None:
        return None


def intent(n: int = 1, *, template: str = "sla_breached", channel: NotifyChannel = NotifyChannel.SMS) -> Intent:
    return Intent(
        dedup_key=f"e{n}|team_lead|staff:lead-gz-01|{channel}", rule_id="breach.team-lead", event_id=f"e{n}",
        ticket_id="T-1", audience=Audience.TEAM_LEAD,
        recipient=Person("staff:lead-gz-01", "赵磊", "13600136001", "zl@example.com"), channel=channel,
        template=template, locale="zh-CN", not_before=T0, urgent=True,
    )  # fmt: skip


VARIABLES = {
    "ticket_no": "T-1", "hotline": "10086", "clock_name": "业务恢复", "deadline": T0, "tier_name": "金牌",
    "customer": "某银行", "city": "广州", "team_name": "广州专线维护", "relay": False, "recipient_name": "赵磊",
}  # fmt: skip


def record(db: FakeDb, *intents: Intent, variables: dict | None = None) -> list[str]:
    ids = []
    for i in intents:
        doc = notification_doc(i, event_type="SlaBreached", variables=variables or VARIABLES, teams=[], now=T0)
        db["notifications"].docs[doc["_id"]] = doc
        ids.append(doc["_id"])
    return ids


def worker(db: FakeDb, *channels: Any, clock: ManualClock, ticks: list[float] | None = None, **config: Any) -> Worker:
    ticks = ticks if ticks is not None else [0.0]
    values = {"topic": "notifications", "max_attempts": 3, "schedule": RetrySchedule(10, 100, 0.5), **config}
    return Worker(
        db,  # type: ignore[arg-type]
        channels=ChannelSet(list(channels), threshold=2, cooldown=60, monotonic=lambda: ticks[0]),
        catalog=CATALOG,
        config=DeliveryConfig(**values),
        clock=clock,
        rand=lambda: 0.5,
    )


def doc_of(db: FakeDb, nid: str) -> dict:
    return db["notifications"].docs[nid]


def events_of(doc: dict) -> list[str]:
    import json

    return [json.loads(e["value"])["type"] for e in doc["outbox"]]


async def test_a_sent_notification_records_its_event_once_and_is_never_sent_again():
    db, clock = FakeDb(), ManualClock(T0)
    (nid,) = record(db, intent())
    sms = ScriptedChannel("sms-a", "sms", SendResult.sent("G-1"))
    w = worker(db, sms, clock=clock)
    assert await w.run_once() == 1
    doc = doc_of(db, nid)
    assert (doc["state"], doc["attempts"], doc["gateway_ids"], events_of(doc)) == (
        "sent",
        1,
        ["G-1"],
        ["NotificationSent"],
    )
    assert sms.sent[0].to == "13600136001" and "T-1" in sms.sent[0].text and sms.sent[0].text.endswith("【中国移动】")
    assert sms.sent[0].idempotency_key == doc["dedup_key"]
    assert (sms.sent[0].params["ticket_no"], sms.sent[0].params["deadline"]) == ("T-1", "3月2日09:15")  # Shanghai time
    clock.advance(timedelta(hours=1))
    assert await w.run_once() == 0 and len(sms.sent) == 1


async def test_two_workers_racing_claim_each_notification_once():
    db, clock = FakeDb(), ManualClock(T0)
    record(db, *(intent(n) for n in range(20)))
    sms = ScriptedChannel("sms-a", "sms", SendResult.sent("G"))
    a, b = worker(db, sms, clock=clock), worker(db, sms, clock=clock)
    claimed = await asyncio.gather(a.run_once(), b.run_once())
    assert sum(claimed) == 20 and len(sms.sent) == 20
    assert len({m.notification_id for m in sms.sent}) == 20


async def test_a_retry_waits_with_backoff_and_the_last_attempt_makes_it_dead():
    db, clock = FakeDb(), ManualClock(T0)
    (nid,) = record(db, intent())
    sms = ScriptedChannel("sms-a", "sms", SendResult.retry("HTTP 503"))
    w = worker(db, sms, clock=clock, ticks=[0.0])
    await w.run_once()
    doc = doc_of(db, nid)
    assert (doc["state"], doc["attempts"], doc["due_at"]) == ("pending", 1, T0 + timedelta(seconds=7.5))
    assert await w.run_once() == 0  # not due yet
    clock.advance(timedelta(seconds=8))
    await w.run_once()
    assert doc_of(db, nid)["due_at"] == clock.now() + timedelta(seconds=15)  # 20 s ceiling, half of it jitter
    w.channels.breakers["sms-a"].success(0)  # (keep the breaker out of this test)
    clock.advance(timedelta(seconds=16))
    await w.run_once()
    doc = doc_of(db, nid)
    assert (doc["state"], doc["attempts"], events_of(doc)) == ("dead", 3, ["NotificationFailed"])
    assert len(sms.sent) == 3


async def test_a_rejected_send_fails_at_once_and_is_not_retried():
    db, clock = FakeDb(), ManualClock(T0)
    (nid,) = record(db, intent())
    sms = ScriptedChannel("sms-a", "sms", SendResult.rejected("HTTP 400 invalid number"))
    w = worker(db, sms, clock=clock)
    await w.run_once()
    clock.advance(timedelta(hours=1))
    await w.run_once()
    doc = doc_of(db, nid)
    assert (doc["state"], len(sms.sent), events_of(doc)) == ("failed", 1, ["NotificationFailed"])


async def test_an_unknown_outcome_is_not_resent_and_a_status_query_settles_it():
    db, clock = FakeDb(), ManualClock(T0)
    (nid,) = record(db, intent())
    sms = ScriptedChannel("sms-a", "sms", SendResult.unknown("timeout after submit", "G-9"))
    w = worker(db, sms, clock=clock, query_after_seconds=30)
    await w.run_once()
    assert doc_of(db, nid)["state"] == "unknown" and doc_of(db, nid)["outbox"] == []
    clock.advance(timedelta(seconds=31))
    await w.run_once()  # the gateway cannot say yet: still unknown, not resent
    assert doc_of(db, nid)["state"] == "unknown" and len(sms.sent) == 1
    sms.reports.append(DeliveryReport("G-9", True, "DELIVRD"))
    clock.advance(timedelta(seconds=31))
    await w.run_once()
    doc = doc_of(db, nid)
    assert (doc["state"], len(sms.sent), events_of(doc)) == ("delivered", 1, ["NotificationSent"])


async def test_an_unknown_outcome_nobody_can_settle_fails_after_its_checks_never_resent():
    db, clock = FakeDb(), ManualClock(T0)
    (nid,) = record(db, intent())
    sms = ScriptedChannel("sms-a", "sms", SendResult.unknown("timeout after submit", "G-9"))
    w = worker(db, sms, clock=clock, query_after_seconds=10, unknown_checks=2)
    for _ in range(4):
        await w.run_once()
        clock.advance(timedelta(seconds=11))
    doc = doc_of(db, nid)
    assert (doc["state"], len(sms.sent), events_of(doc)) == ("failed", 1, ["NotificationFailed"])


async def test_a_lease_lost_mid_send_makes_the_notification_unknown_not_resent():
    db, clock = FakeDb(), ManualClock(T0)
    (nid,) = record(db, intent())
    doc_of(db, nid).update(state="sending", lease_owner="dead-worker", lease_until=T0 - timedelta(seconds=1))
    sms = ScriptedChannel("sms-a", "sms", SendResult.sent("G"))
    await worker(db, sms, clock=clock).run_once()
    assert doc_of(db, nid)["state"] == "unknown" and sms.sent == []


async def test_an_open_breaker_fails_over_to_the_second_channel_of_the_kind():
    db, clock, ticks = FakeDb(), ManualClock(T0), [0.0]
    ids = record(db, *(intent(n) for n in range(4)))
    down = ScriptedChannel("sms-a", "sms", SendResult.retry("connection refused"))
    backup = ScriptedChannel("sms-b", "sms", SendResult.sent("B"))
    w = worker(db, down, backup, clock=clock, ticks=ticks, concurrency=1)
    await w.run_once()
    assert all(doc_of(db, n)["state"] == "sent" and doc_of(db, n)["channel_name"] == "sms-b" for n in ids)
    assert len(down.sent) == 2 and w.channels.states()["sms-a"] == "open"  # opened after 2, then skipped
    ticks[0] = 61.0  # the cooldown passed: one trial goes to the primary again
    down.answers = [SendResult.sent("A")]
    record(db, intent(9))
    await w.run_once()
    assert w.channels.states()["sms-a"] == "closed" and len(down.sent) == 3


async def test_with_every_breaker_open_nothing_is_attempted_and_it_waits():
    db, clock = FakeDb(), ManualClock(T0)
    ids = record(db, *(intent(n) for n in range(3)))
    down = ScriptedChannel("sms-a", "sms", SendResult.retry("HTTP 502"))
    w = worker(db, down, clock=clock, concurrency=1, blocked_wait_seconds=5)
    await w.run_once()
    states = sorted((doc_of(db, n)["attempts"], doc_of(db, n)["state"]) for n in ids)
    assert states == [(0, "pending"), (1, "pending"), (1, "pending")] and len(down.sent) == 2


async def test_a_template_error_is_a_failed_send_counted_never_an_empty_text():
    db, clock = FakeDb(), ManualClock(T0)
    (nid,) = record(db, intent(), variables={"ticket_no": "T-1"})  # the variables the template needs are missing
    sms = ScriptedChannel("sms-a", "sms", SendResult.sent("G"))
    w = worker(db, sms, clock=clock)
    await w.run_once()
    doc = doc_of(db, nid)
    assert (doc["state"], sms.sent, events_of(doc)) == ("failed", [], ["NotificationFailed"])
    assert doc["error"].startswith("template:")
    assert w.template_errors.labels("sla_breached")._value.get() == 1


async def test_the_gate_defers_or_suppresses_before_anything_is_rendered_or_sent():
    db, clock = FakeDb(), ManualClock(T0)
    later, gone = record(db, intent(1), intent(2))
    sms = ScriptedChannel("sms-a", "sms", SendResult.sent("G"))
    w = worker(db, sms, clock=clock)
    until = T0 + timedelta(hours=8)
    w.gate = lambda doc, now: Verdict("defer", until, "quiet hours") if doc["_id"] == later else Verdict(
        "suppress", reason="bounced")  # fmt: skip
    await w.run_once()
    assert (doc_of(db, later)["state"], doc_of(db, later)["due_at"]) == ("pending", until)
    assert doc_of(db, gone)["state"] == "suppressed" and sms.sent == []


async def test_a_kind_without_its_own_channel_is_recorded_by_the_outbox():
    db, clock = FakeDb(), ManualClock(T0)
    (nid,) = record(db, intent(channel=NotifyChannel.EMAIL))
    outbox = ScriptedChannel("outbox", "outbox", SendResult.sent("O"))
    await worker(db, outbox, clock=clock).run_once()
    doc = doc_of(db, nid)
    assert (doc["state"], doc["channel"], doc["delivered_kind"]) == ("sent", "email", "outbox")
    assert outbox.sent[0].to == "zl@example.com" and outbox.sent[0].subject == outbox.sent[0].text.split("\n")[0]


async def test_a_gate_may_be_asynchronous_and_read_what_it_needs():
    db, clock = FakeDb(), ManualClock(T0)
    (nid,) = record(db, intent())
    sms = ScriptedChannel("sms-a", "sms", SendResult.sent("G"))
    w, asked = worker(db, sms, clock=clock), []

    async def gate(doc, now):
        asked.append((doc["_id"], now))
        return Verdict("suppress", reason="bounced before")

    w.gate = gate
    await w.run_once()
    assert asked == [(nid, T0)] and doc_of(db, nid)["state"] == "suppressed" and sms.sent == []


def test_outcomes_name_every_state():
    assert {str(o) for o in Outcome} == {"sent", "retry", "rejected", "unknown"}
    assert State.DEAD == "dead"
