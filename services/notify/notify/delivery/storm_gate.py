"""The storm and rate rules as the worker's gate (`notify.delivery.gate`): the pure `notify.domain.storm.gate` over
notify's own database.

For a claimed notification document the gate rebuilds its `Intent`, reads

- the ticket's `TicketState` from the snapshot read model (`notify.snapshots`, collection `tickets`);
- a `RecipientHistory` from the `notifications` collection: sends to this recipient on this channel since local
  midnight (documents with `sent_at`, digests included, each counted once) and the last send under the intent's
  incident key (`incident_key`, written on the document with its send outcome: `Verdict.record`);
- the suppression list (collection `suppressions`, `_id` the address): a gateway's rejection for an invalid address
  adds it (`suppress_rejected`, called by the worker where it records a rejection);

and maps the `Decision` to the worker's `Verdict` one to one: send (with the incident key to record), defer until,
suppress with its reason, digest until (the worker holds the notification as an entry of the recipient's digest for
that time and sends the digest then, once, not gated again). Every query here uses an index `store.create_indexes`
makes at start-up. Concurrency: one worker gates a recipient's non-urgent notices on one channel one after the
other (`worker._turns`), so each sees the previous one's send; two worker processes may still both send past a cap
or for one incident at the same moment (the history only sees what was recorded).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from huying.idempotency import insert_once
from notify.delivery.gate import SEND, Verdict
from notify.domain import storm
from notify.domain.recipients import Audience, Person
from notify.domain.rules import ADDRESS_OF, Intent, NotifyChannel
from notify.domain.storm import Decision, StormPolicy, TicketState
from notify.snapshots import EPOCH, TICKETS, ticket_state
from notify.store import DIGEST_RULE, NOTIFICATIONS, SUPPRESSIONS

log = logging.getLogger("notify.storm")


def intent_of(doc: Mapping[str, Any]) -> Intent:
    """The intent a notification document was recorded from (`store.notification_doc`)."""
    person = doc.get("recipient") or {}
    return Intent(
        dedup_key=doc["dedup_key"],
        rule_id=doc["rule_id"],
        event_id=str(doc.get("event_id") or ""),
        ticket_id=doc.get("ticket_id"),
        audience=Audience(doc["audience"]),
        recipient=Person(
            ref=person["ref"],
            name=person.get("name"),
            phone=person.get("phone"),
            email=person.get("email"),
            webhook=person.get("webhook"),
        ),
        channel=NotifyChannel(doc["channel"]),
        template=doc["template"],
        locale=doc["locale"],
        not_before=doc.get("not_before") or doc["due_at"],  # older documents: due_at was their intent's time
        urgent=bool(doc.get("urgent")),
        gap=doc.get("gap"),
    )


@dataclass
class Prefetched:
    """A `RecipientHistory` holding the answers to the one count and the one key the gate may ask about, read
    beforehand (the pure gate is synchronous). Asking anything else is a bug, not a zero."""

    count_for: tuple[str, str, datetime] | None = None
    count: int = 0
    told: dict[str, tuple[datetime, str | None]] = field(default_factory=dict)

    def sent_count(self, recipient_ref: str, channel: str, *, since: datetime) -> int:
        if (recipient_ref, channel, since) != self.count_for:
            raise LookupError(f"sent_count({recipient_ref}, {channel}, since={since}) was not read beforehand")
        return self.count

    def last_told(self, key: str) -> tuple[datetime, str | None] | None:
        return self.told.get(key)


def counts_toward_cap(intent: Intent, policy: StormPolicy) -> bool:
    """Whether the gate will ask for the recipient's sends today (the condition `storm.gate` checks them under)."""
    return (
        intent.channel is not NotifyChannel.OUTBOX
        and not intent.urgent
        and intent.channel in policy.caps.per_day
        and intent.audience not in policy.caps.exempt_audiences
    )


def verdict_of(decision: Decision, *, key: str | None) -> Verdict:
    """The worker's verdict for the storm rules' decision."""
    reason = f"{decision.rule}: {decision.reason}" if decision.rule else decision.reason
    if decision.action == "send":
        return Verdict("send", reason=reason, record={"incident_key": key} if key else {})
    if decision.action == "suppress":
        return Verdict("suppress", reason=reason)
    return Verdict(decision.action, until=decision.until, reason=reason)


# A gateway's rejection that names the address itself as the problem (not a signature, a template or a quota):
# SMTP 550/551/553 about the mailbox or recipient, "invalid"/"unknown" number/address/recipient/mobile, 号码错误/空号,
# CMPP Result 9/10 are not addresses and stay out. Channels report rejections as text (`SendResult.rejected`).
_ADDRESS_REJECTED = re.compile(
    r"(\b55[013]\b.*\b(mailbox|user|recipient|address)\b)"
    r"|((invalid|unknown|bad|illegal|wrong|no such)\W+(phone\W*)?(number|address|recipient|mobile|mailbox|user))"
    r"|(号码(错误|无效|不存在)|空号|无效号码|非法号码)",
    re.IGNORECASE,
)


def address_rejected(error: str | None) -> bool:
    return bool(error and _ADDRESS_REJECTED.search(error))


async def suppress_rejected(
    db: AsyncDatabase, doc: Mapping[str, Any], *, address: str, error: str | None, now: datetime
) -> bool:
    """Put `address` on the suppression list when the gateway rejected it as invalid; True if it was added now.
    Only a real address of the recipient (never a ref, never the outbox) is listed."""
    field_name = ADDRESS_OF.get(doc["channel"])  # type: ignore[call-overload]  # StrEnum keys match their str
    recipient = doc.get("recipient") or {}
    if not field_name or not address or recipient.get(field_name) != address or not address_rejected(error):
        return False
    entry = {"_id": address, "reason": (error or "")[:200], "at": now, "notification_id": doc["_id"]}
    added = await insert_once(db[SUPPRESSIONS], entry)
    if added:
        log.info("notification %s: %s added to the suppression list (%s)", doc["_id"], field_name, error)
    return added


class StormGate:
    """`Gate` with the storm and rate rules (async: it reads the snapshot, the history and the suppression list)."""

    def __init__(self, db: AsyncDatabase, policy: StormPolicy) -> None:
        self.db, self.policy = db, policy
        self.notes, self.tickets, self.suppressions = db[NOTIFICATIONS], db[TICKETS], db[SUPPRESSIONS]

    async def __call__(self, doc: Mapping[str, Any], now: datetime) -> Verdict:
        if doc.get("kind") == DIGEST_RULE:
            return SEND  # a digest is what the rules decided: not gated again
        intent = intent_of(doc)
        ticket = await self.ticket(intent.ticket_id)
        key = storm.incident_key(intent, ticket, policy=self.policy)
        history = await self.history(intent, doc, now=now, key=key)
        suppressed = await self.suppressed(intent)
        decision = storm.gate(
            intent, now=now, ticket=ticket, history=history, suppressed=suppressed, policy=self.policy
        )
        return verdict_of(decision, key=key)

    async def ticket(self, ticket_id: str | None) -> TicketState | None:
        if not ticket_id:
            return None
        doc = await self.tickets.find_one({"_id": ticket_id})
        return ticket_state(doc) if doc else None

    async def history(self, intent: Intent, doc: Mapping[str, Any], *, now: datetime, key: str | None) -> Prefetched:
        history = Prefetched()
        if counts_toward_cap(intent, self.policy):
            since = storm.day_start(now, self.policy)
            ref, channel = intent.recipient.ref, str(intent.channel)
            query = {"recipient.ref": ref, "channel": channel, "sent_at": {"$gte": since}, "_id": {"$ne": doc["_id"]}}
            history.count_for, history.count = (ref, channel, since), await self.notes.count_documents(query)
        if key:
            last = (
                await self.notes.find({"incident_key": key, "sent_at": {"$gte": EPOCH}}, {"sent_at": 1, "ticket_id": 1})
                .sort("sent_at", DESCENDING)
                .limit(1)
                .to_list()
            )
            if last:
                history.told[key] = (last[0]["sent_at"], last[0].get("ticket_id"))
        return history

    async def suppressed(self, intent: Intent) -> frozenset[str]:
        field_name = ADDRESS_OF.get(intent.channel)
        values = [v for v in (getattr(intent.recipient, field_name) if field_name else None, intent.recipient.ref) if v]
        found = await self.suppressions.find({"_id": {"$in": values}}, {"_id": 1}).to_list()
        return frozenset(d["_id"] for d in found)
