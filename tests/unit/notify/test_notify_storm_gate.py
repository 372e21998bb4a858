"""The storm gate's adapter, without I/O: a notification document rebuilds the intent it was recorded from, every
storm decision maps to the worker's verdict (the incident key recorded with a send), the gate reads the ticket, the
history and the suppression list from its collections (an in-memory stand-in answering the same queries), and a
gateway's rejection puts an address on the list only when it names the address as the problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.delivery.gate import Verdict
from notify.delivery.storm_gate import (
    Prefetched,
    StormGate,
    address_rejected,
    intent_of,
    suppress_rejected,
    verdict_of,
)
from notify.domain.recipients import Audience, Person
from notify.domain.rules import Intent, NotifyChannel
from notify.domain.storm import Decision, load_storm_policy
from notify.store import State, digest_doc, notification_doc

pytestmark = pytest.mark.unit

POLICY = load_storm_policy()
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 Asia/Shanghai
NIGHT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 Asia/Shanghai


# ---- an in-memory stand-in for the three collections the gate reads --------------------------------------------
def _get(doc: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def _matches(doc: dict, query: dict) -> bool:
    for key, want in query.items():
        have = _get(doc, key)
        if isinstance(want, dict):
            for op, value in want.items():
                if op == "$gte" and (have is None or have < value):
                    return False
                if op == "$ne" and have == value:
                    return False
                if op == "$in" and have not in value:
                    return False
        elif have != want:
            return False
    return True


class _Cursor:
    def __init__(self, docs: list[dict]) -> None:
        self.docs = docs

    def sort(self, key: str, direction: int) -> _Cursor:
        self.docs.sort(key=lambda d: _get(d, key), reverse=direction < 0)
        return self

    def limit(self, n: int) -> _Cursor:
        self.docs = self.docs[:n]
        return self

    async def to_list(self) -> list[dict]:
        return list(self.docs)


class Collection:
    def __init__(self) -> None:
        self.docs: dict[Any, dict] = {}

    def find(self, query: dict, projection: Any = None) -> _Cursor:
        return _Cursor([d for d in self.docs.values() if _matches(d, query)])

    async def find_one(self, query: dict) -> dict | None:
        return next((d for d in self.docs.values() if _matches(d, query)), None)

    async def count_documents(self, query: dict) -> int:
        return sum(1 for d in self.docs.values() if _matches(d, query))

    async def insert_one(self, doc: dict) -> None:
        from pymongo.errors import DuplicateKeyError

        if doc["_id"] in self.docs:
            raise DuplicateKeyError("E11000")
        self.docs[doc["_id"]] = dict(doc)


class Db(dict):
    def __missing__(self, name: str) -> Collection:
        self[name] = Collection()
        return self[name]


# ---- intents and documents ---------------------------------------------------------------------------------------
LEAD = Person(ref="staff:gz-lead", name="张工", phone="13700000001", email="lead@example.com")
MANAGER = Person(ref="account_manager:abc", name="李娜", phone="13900139000")
CONTACT = Person(ref="contact:def", name="王伟", phone="13800138000")


def intent(
    *,
    rule: str = "warning.team-lead",
    audience: Audience = Audience.TEAM_LEAD,
    person: Person = LEAD,
    channel: NotifyChannel = NotifyChannel.SMS,
    ticket: str | None = "T-1",
    at: datetime = NOON,
    urgent: bool = False,
    event: str = "E-1",
) -> Intent:
    return Intent(
        dedup_key=f"{event}|{audience}|{person.ref}|{channel}",
        rule_id=rule,
        event_id=event,
        ticket_id=ticket,
        audience=audience,
        recipient=person,
        channel=channel,
        template="sla_warning",
        locale="zh-CN",
        not_before=at,
        urgent=urgent,
    )


def doc_of(i: Intent, **fields: Any) -> dict[str, Any]:
    return {**notification_doc(i, event_type="SlaWarning", variables={}, teams=[], now=i.not_before), **fields}


people = st.builds(
    Person,
    ref=st.text(min_size=1, max_size=12).filter(lambda s: "|" not in s),
    name=st.none() | st.text(max_size=8),
    phone=st.none() | st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    email=st.none() | st.emails(),
    webhook=st.none() | st.just("https://hooks.example.com/x"),
)


@given(
    people,
    st.sampled_from(list(Audience)),
    st.sampled_from(list(NotifyChannel)),
    st.none() | st.just("T-9"),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)),
)
def test_a_recorded_notification_rebuilds_the_intent_it_was_recorded_from(
    person, audience, channel, ticket, urgent, at
):
    original = Intent(
        dedup_key=f"E|{audience}|{person.ref}|{channel}", rule_id="r", event_id="E", ticket_id=ticket,
        audience=audience, recipient=person, channel=channel, template="t", locale="en", not_before=at,
        urgent=urgent, gap=None,
    )  # fmt: skip
    rebuilt = intent_of(doc_of(original))
    assert rebuilt == Intent(**{**original.__dict__, "recipient": Person(**{**person.__dict__, "locale": None})})


def test_the_intents_own_time_survives_a_deferral_that_moved_due_at():
    i = intent(at=NOON)
    assert intent_of(doc_of(i, due_at=NOON + timedelta(hours=3))).not_before == NOON


# ---- decisions as verdicts ---------------------------------------------------------------------------------------
def test_every_decision_maps_to_the_verdict_of_the_same_action():
    until = NOON + timedelta(minutes=5)
    assert verdict_of(Decision("send", reason="no storm rule applies"), key="I|r|p|sms") == Verdict(
        "send", reason="no storm rule applies", record={"incident_key": "I|r|p|sms"}
    )
    assert verdict_of(Decision("send"), key=None).record == {}
    suppress = verdict_of(Decision("suppress", None, "re-check: the ticket is already restored", "recheck"), key="k")
    assert (suppress.action, suppress.until, suppress.record) == ("suppress", None, {})
    assert suppress.reason == "recheck: re-check: the ticket is already restored"
    defer = verdict_of(Decision("defer", until, "waiting", "hold_down"), key=None)
    assert (defer.action, defer.until) == ("defer", until)
    digest = verdict_of(Decision("digest", until, "cap", "cap"), key=None)
    assert (digest.action, digest.until) == ("digest", until)


def test_the_prefetched_history_refuses_a_question_it_was_not_asked_beforehand():
    h = Prefetched(count_for=("p", "sms", NOON), count=3, told={"k": (NOON, "T-1")})
    assert h.sent_count("p", "sms", since=NOON) == 3 and h.last_told("k") == (NOON, "T-1") and h.last_told("x") is None
    with pytest.raises(LookupError):
        h.sent_count("p", "email", since=NOON)


# ---- the gate over its collections -------------------------------------------------------------------------------
def sent(db: Db, i: Intent, at: datetime, **fields: Any) -> None:
    db["notifications"].docs[i.dedup_key] = doc_of(i, _id=i.dedup_key, state=State.SENT, sent_at=at, **fields)


async def test_past_the_cap_a_non_urgent_staff_sms_is_held_for_the_next_digest():
    db, cap = Db(), POLICY.caps.per_day[NotifyChannel.SMS]
    for n in range(cap):
        sent(db, intent(event=f"E-{n}"), NOON - timedelta(minutes=n))
    sent(db, intent(event="E-yesterday"), NOON - timedelta(days=1))  # another local day: not counted
    gate = StormGate(db, POLICY)  # type: ignore[arg-type]
    held = await gate(doc_of(intent(event="E-next")), NOON)
    assert held.action == "digest" and held.until == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 15:00 local
    assert (await gate(doc_of(intent(event="E-urgent", urgent=True)), NOON)).action == "send"
    assert (await gate(doc_of(intent(event="E-mail", channel=NotifyChannel.EMAIL)), NOON)).action == "send"
    del db["notifications"].docs["E-0|team_lead|staff:gz-lead|sms"]
    assert (await gate(doc_of(intent(event="E-next")), NOON)).action == "send"


async def test_a_digest_notification_is_not_gated_again():
    db = Db()
    for n in range(50):
        sent(db, intent(event=f"E-{n}"), NOON)
    digest = digest_doc(doc_of(intent()), at=NOON, now=NOON)
    assert (await StormGate(db, POLICY)(digest, NOON)).action == "send"  # type: ignore[arg-type]


async def test_a_second_notice_for_another_child_of_the_incident_is_suppressed_and_a_send_records_its_key():
    db = Db()
    for child in ("T-A", "T-B"):
        db["tickets"].docs[child] = {"_id": child, "parent_incident_id": "I-1", "state": "open"}
    gate = StormGate(db, POLICY)  # type: ignore[arg-type]
    first = intent(rule="cadence.account-manager", audience=Audience.ACCOUNT_MANAGER, person=MANAGER, ticket="T-A")
    verdict = await gate(doc_of(first), NOON)
    assert verdict.action == "send"
    assert verdict.record == {"incident_key": f"I-1|cadence.account-manager|{MANAGER.ref}|sms"}
    sent(db, first, NOON, **verdict.record)
    second = intent(
        rule="cadence.account-manager", audience=Audience.ACCOUNT_MANAGER, person=MANAGER, ticket="T-B", event="E-2"
    )
    again = await gate(doc_of(second), NOON + timedelta(minutes=10))
    assert again.action == "suppress" and "T-A" in again.reason and again.reason.startswith("incident")
    later = await gate(doc_of(second), NOON + timedelta(minutes=POLICY.incident.window_minutes))
    assert later.action == "send"


async def test_an_escalation_for_a_restored_ticket_is_suppressed_and_a_reopened_one_goes():
    db = Db()
    db["tickets"].docs["T-1"] = {"_id": "T-1", "state": "resolved", "restored_at": NOON - timedelta(minutes=1)}
    gate = StormGate(db, POLICY)  # type: ignore[arg-type]
    escalation = intent(rule="escalation.director", audience=Audience.BRANCH_DIRECTOR, urgent=True)
    verdict = await gate(doc_of(escalation), NOON)
    assert verdict.action == "suppress" and "restored" in verdict.reason
    db["tickets"].docs["T-1"].update(state="open", reopened_at=NOON)
    assert (await gate(doc_of(escalation), NOON)).action == "send"


async def test_quiet_hours_defer_a_customer_notice_to_eight_and_never_an_urgent_one():
    gate = StormGate(Db(), POLICY)  # type: ignore[arg-type]
    notice = intent(rule="cadence.customer", audience=Audience.CUSTOMER_CONTACT, person=CONTACT, at=NIGHT)
    verdict = await gate(doc_of(notice), NIGHT)
    assert verdict.action == "defer" and verdict.until == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 local
    breach = intent(rule="breach.team-lead", urgent=True, at=NIGHT)
    assert (await gate(doc_of(breach), NIGHT)).action == "send"


async def test_a_listed_address_or_ref_is_never_sent_to_and_the_outbox_still_records():
    db = Db()
    db["suppressions"].docs[LEAD.phone] = {"_id": LEAD.phone}
    gate = StormGate(db, POLICY)  # type: ignore[arg-type]
    assert (await gate(doc_of(intent(urgent=True)), NOON)).action == "suppress"
    assert (await gate(doc_of(intent(channel=NotifyChannel.EMAIL)), NOON)).action == "send"
    assert (await gate(doc_of(intent(channel=NotifyChannel.OUTBOX)), NOON)).action == "send"
    db["suppressions"].docs[LEAD.ref] = {"_id": LEAD.ref}
    assert (await gate(doc_of(intent(channel=NotifyChannel.EMAIL)), NOON)).action == "suppress"


# ---- rejections that list an address ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error",
    [
        "HTTP 400 invalid number",
        "rspcod IllegalMobiles: invalid mobile",
        "SMTP 550 5.1.1 mailbox unavailable",
        "553 recipient address rejected",
        "号码错误",
        "空号",
        "unknown recipient",
    ],
)
def test_a_rejection_naming_the_address_lists_it(error: str):
    assert address_rejected(error)


@pytest.mark.parametrize(
    "error", [None, "", "HTTP 400 bad signature", "IllegalMac", "template not found", "SMTP 554 message rejected"]
)
def test_a_rejection_for_anything_else_does_not(error: str | None):
    assert not address_rejected(error)


async def test_only_the_recipients_own_address_goes_on_the_list_once():
    db, doc = Db(), doc_of(intent())
    assert await suppress_rejected(db, doc, address=LEAD.phone, error="invalid number", now=NOON)  # type: ignore[arg-type]
    assert not await suppress_rejected(db, doc, address=LEAD.phone, error="invalid number", now=NOON)  # type: ignore[arg-type]
    assert not await suppress_rejected(db, doc, address=LEAD.ref, error="invalid number", now=NOON)  # type: ignore[arg-type]
    assert not await suppress_rejected(db, doc, address=LEAD.phone, error="IllegalMac", now=NOON)  # type: ignore[arg-type]
    outbox = doc_of(intent(channel=NotifyChannel.OUTBOX))
    assert not await suppress_rejected(db, outbox, address=LEAD.ref, error="invalid number", now=NOON)  # type: ignore[arg-type]
    assert set(db["suppressions"].docs) == {LEAD.phone}
    assert db["suppressions"].docs[LEAD.phone]["notification_id"] == doc["_id"]


# ---- the worker's turns: one recipient's non-urgent notices are gated one after the other -------------------------
def test_one_recipients_non_urgent_notices_share_a_turn_and_urgent_ones_go_on_their_own():
    from notify.delivery.worker import _turns

    docs = [
        doc_of(intent(event="E-1")),
        doc_of(intent(event="E-2")),
        doc_of(intent(event="E-3", channel=NotifyChannel.EMAIL)),
        doc_of(intent(event="E-4", person=MANAGER, audience=Audience.ACCOUNT_MANAGER)),
        doc_of(intent(event="E-5", urgent=True)),
        doc_of(intent(event="E-6", urgent=True)),
    ]
    turns = [[d["event_id"] for d in turn] for turn in _turns(docs)]
    assert sorted(turns) == [["E-1", "E-2"], ["E-3"], ["E-4"], ["E-5"], ["E-6"]]
    assert sorted(e for turn in turns for e in turn) == [f"E-{i}" for i in range(1, 7)]
