"""The delivery worker: claims due notifications with a lease, renders, sends through the channels (breaker and
failover), and records the outcome with its event in one guarded write.

A claim is a find of due ids and an `update_one` guarded on the state (and attempts) read — no
`find_one_and_update`, which SecantusDB answers slowly at scale (ARCHITECTURE.md). Every outcome write is guarded on
`state: sending` and this worker's lease, so an outcome is written once. A lease that expires mid-send (the process
died, or the send outlasted it) turns the notification `unknown`: it may have gone out, so it is never resent
blindly; a status query or a delivery report settles it."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import random
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from pymongo.asynchronous.database import AsyncDatabase

from huying.clock import Clock
from huying.idempotency import insert_once
from huying.outbox import with_outbox
from notify.channels.base import Channel, Message, Outcome, SendResult
from notify.delivery import unknown
from notify.delivery.backoff import RetrySchedule
from notify.delivery.channels import ChannelSet
from notify.delivery.events import failed_entry, sent_entry
from notify.delivery.gate import Gate, always_send
from notify.delivery.render import ADDRESS, message_for
from notify.delivery.storm_gate import suppress_rejected
from notify.domain.storm import DigestEntry, digest
from notify.domain.templates import TemplateError
from notify.policy import Catalog
from notify.store import DIGEST_RULE, NOTIFICATIONS, State, digest_doc

log = logging.getLogger("notify.delivery")


@dataclass(frozen=True)
class DeliveryConfig:
    topic: str  # huying.notifications.v1 (with the prefix)
    max_attempts: int = 6
    schedule: RetrySchedule = field(default_factory=lambda: RetrySchedule(1.0, 300.0))
    lease_seconds: float = 60.0
    send_timeout_seconds: float = 30.0
    poll_seconds: float = 0.5
    batch: int = 100
    concurrency: int = 16
    query_after_seconds: float = 60.0
    unknown_checks: int = 10
    blocked_wait_seconds: float = 5.0  # every channel's breaker open: look again this much later


def message_for_digest(doc: Mapping[str, Any], text: str, *, subject: str | None = None) -> Message:
    """A digest notification as a channel's message (its text made by `Worker._digest_message`)."""
    kind, recipient = doc["channel"], doc.get("recipient") or {}
    field_name = ADDRESS.get(kind)
    return Message(
        notification_id=doc["_id"],
        idempotency_key=doc["dedup_key"],
        to=(recipient.get(field_name) if field_name else None) or recipient.get("ref") or "",
        text=text,
        subject=subject if kind == "email" else None,
        ticket_id=None,
        template=DIGEST_RULE,  # a template-code platform needs a "digest" template taking the text as `text`
        params={"text": text},
        locale=doc["locale"],
    )


def _turns(claimed: list[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Claimed notifications in groups delivered one after the other: the non-urgent ones of one recipient and
    channel share a group, so the storm gate sees each one's send before it gates the next (a cap, one message per
    incident); every urgent one goes on its own, at once (the gate neither caps nor merges them)."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for doc in claimed:
        ref = (doc.get("recipient") or {}).get("ref") or ""
        key = ("urgent", str(doc["_id"])) if doc.get("urgent") else ("turn", ref, str(doc["channel"]))
        groups.setdefault(key, []).append(doc)
    return list(groups.values())


class Worker:
    def __init__(
        self,
        db: AsyncDatabase,
        *,
        channels: ChannelSet,
        catalog: Catalog,
        config: DeliveryConfig,
        clock: Clock,
        gate: Gate = always_send,
        rand: Callable[[], float] = random.random,
        on_outbox: Callable[[], None] = lambda: None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.db, self.notes = db, db[NOTIFICATIONS]
        self.channels, self.catalog, self.config, self.clock = channels, catalog, config, clock
        self.gate, self.rand, self.on_outbox = gate, rand, on_outbox
        self.owner = f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(config.concurrency)
        registry = registry or CollectorRegistry()
        self.sends = Counter(
            "huying_notify_sends", "Channel calls by outcome.", ["channel", "outcome"], registry=registry
        )
        self.template_errors = Counter(
            "huying_notify_template_errors", "Texts that could not be rendered.", ["template"], registry=registry
        )

    # ---- running ----------------------------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notify-delivery")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            busy = False
            try:
                busy = await self.run_once() >= self.config.batch
            except Exception:
                log.exception("delivery pass failed; the next one retries")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)
                self._wake.clear()

    async def run_once(self) -> int:
        """One pass: recover lost leases, deliver what is due, check unknown outcomes. Returns how many it claimed."""
        now = self.clock.now()
        await unknown.recover_leases(self.db, now=now, batch=self.config.batch)
        due = (
            await self.notes.find({"state": State.PENDING, "due_at": {"$lte": now}}).limit(self.config.batch).to_list()
        )
        claimed = [doc for doc in due if await self._claim(doc, now)]
        await asyncio.gather(*(self._in_turn(group) for group in _turns(claimed)))
        undecided = (
            await self.notes.find({"state": State.UNKNOWN, "check_at": {"$lte": now}})
            .limit(self.config.batch)
            .to_list()
        )
        for doc in undecided:
            await unknown.check_unknown(
                self.db,
                doc,
                channels=self.channels,
                topic=self.config.topic,
                now=self.clock.now(),
                query_after=self.config.query_after_seconds,
                max_checks=self.config.unknown_checks,
            )
        if claimed or undecided:
            self.on_outbox()
        return len(claimed)

    async def _claim(self, doc: Mapping[str, Any], now: datetime) -> bool:
        lease = now + timedelta(seconds=self.config.lease_seconds)
        done = await self.notes.update_one(
            {"_id": doc["_id"], "state": State.PENDING, "attempts": doc["attempts"], "due_at": {"$lte": now}},
            {"$set": {"state": State.SENDING, "lease_owner": self.owner, "lease_until": lease}},
        )
        return done.modified_count == 1

    async def _in_turn(self, docs: list[Mapping[str, Any]]) -> None:
        for doc in docs:
            await self._one(doc)

    async def _one(self, doc: Mapping[str, Any]) -> None:
        async with self._slots:
            try:
                await self.deliver(doc)
            except Exception:
                log.exception("notification %s: delivery failed unexpectedly; its lease will expire", doc["_id"])

    # ---- one notification ---------------------------------------------------------------------------------------
    async def deliver(self, doc: Mapping[str, Any]) -> None:
        """Send one claimed notification and record what happened."""
        now = self.clock.now()
        verdict = self.gate(doc, now)  # the storm rules (notify.delivery.gate): send, defer, suppress or digest
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if verdict.action == "defer":
            await self._finish(doc, {"state": State.PENDING, "due_at": verdict.until or now, "note": verdict.reason})
            return
        if verdict.action == "suppress":
            await self._finish(doc, {"state": State.SUPPRESSED, "note": verdict.reason})
            return
        if verdict.action == "digest":
            await self._hold_for_digest(doc, verdict.until or now, verdict.reason, now)
            return
        extra = dict(verdict.record)
        try:
            if doc.get("kind") == DIGEST_RULE:
                message, entries = await self._digest_message(doc)
                if not entries:
                    await self._finish(doc, {"state": State.SUPPRESSED, "note": "digest: nothing was held for it"})
                    return
                extra["entries"] = entries
            else:
                message = message_for(doc, catalog=self.catalog)
        except TemplateError as error:
            self.template_errors.labels(doc["template"]).inc()
            await self._failed(doc, f"template: {error}", attempts=doc["attempts"] + 1, kind=doc["channel"], now=now)
            return
        await self._send_and_record(doc, message, now, extra=extra)

    # ---- digests (notify.domain.storm: past a cap, a non-urgent staff message waits for the next digest) ----------
    async def _hold_for_digest(self, doc: Mapping[str, Any], at: datetime, reason: str, now: datetime) -> None:
        """Keep `doc` as an entry of its recipient's digest at `at` (one digest notification per recipient, channel
        and time, created by the first entry)."""
        digest = digest_doc(doc, at=at, now=now)
        if await insert_once(self.notes, digest):
            log.info("digest %s for %s on %s at %s", digest["_id"], doc["recipient"]["ref"], doc["channel"], at)
        fields = {"state": State.DIGEST, "digest_id": digest["_id"], "digest_at": at, "note": reason}
        await self._finish(doc, fields)

    async def _digest_message(self, doc: Mapping[str, Any]) -> tuple[Message, list[str]]:
        """The digest's text: every entry held for it, per ticket, with its newest headline (`storm.digest`)."""
        held = await self.notes.find({"digest_id": doc["_id"], "state": State.DIGEST}).to_list()
        if not held:
            return message_for_digest(doc, ""), []
        entries = [
            DigestEntry(ticket_id=e.get("ticket_id"), at=e.get("not_before") or e["due_at"], headline=self._headline(e))
            for e in held
        ]
        defaults = self.catalog.rules.defaults
        rendered = digest(entries, locale=doc["locale"], timezone=defaults.timezone)
        text = rendered.text
        if doc["channel"] == "sms":
            text = rendered.sms(signature=defaults.signature, max_segments=defaults.sms_max_segments)
        return message_for_digest(doc, text, subject=rendered.subject), [e["_id"] for e in held]

    def _headline(self, entry: Mapping[str, Any]) -> str:
        """An entry's first line (its template's subject); its template id if it cannot be rendered."""
        try:
            variables = entry.get("variables") or {}
            return self.catalog.templates.render(entry["template"], entry["locale"], variables).subject
        except TemplateError:
            return str(entry.get("template"))

    async def _send_and_record(
        self, doc: Mapping[str, Any], message: Message, now: datetime, *, extra: Mapping[str, Any] | None = None
    ) -> None:
        candidates = self.channels.candidates(doc["channel"])
        if not candidates:
            await self._failed(
                doc,
                f"no channel configured for {doc['channel']}",
                attempts=doc["attempts"],
                kind=doc["channel"],
                now=now,
                state=State.DEAD,
            )
            return
        attempts, tried, history = doc["attempts"], None, []
        result: SendResult | None = None
        for channel in candidates:
            if not self.channels.breakers[channel.name].allow(self.channels.monotonic()):
                continue
            result, tried = await self._send(channel, message), channel
            attempts += 1
            history.append({"at": now, "channel": channel.name, "outcome": str(result.outcome), "error": result.error})
            if result.outcome is not Outcome.RETRY or attempts >= self.config.max_attempts:
                break  # a retry fails over to the next channel of the kind whose breaker is closed
        if result is None or tried is None:  # every breaker open: not an attempt, look again later
            until = now + timedelta(seconds=self.config.blocked_wait_seconds)
            await self._finish(doc, {"state": State.PENDING, "due_at": until, "note": "every channel's breaker open"})
            return
        await self._record(doc, message, tried, result, attempts=attempts, history=history, now=now, extra=extra)

    async def _send(self, channel: Channel, message: Message) -> SendResult:
        try:
            async with asyncio.timeout(self.config.send_timeout_seconds):
                result = await channel.send(message)
        except TimeoutError:
            result = SendResult.unknown(f"no answer within {self.config.send_timeout_seconds}s")
        except Exception as error:  # a channel must not raise; if it does, nothing is known to have gone out
            result = SendResult.retry(f"{type(error).__name__}: {error}")
        self.sends.labels(channel.name, str(result.outcome)).inc()
        if result.outcome in (Outcome.RETRY, Outcome.UNKNOWN):
            self.channels.failed(channel)
        else:
            self.channels.succeeded(channel)
        return result

    async def _record(
        self,
        doc: Mapping[str, Any],
        message: Message,
        channel: Channel,
        result: SendResult,
        *,
        attempts: int,
        history: list[dict[str, Any]],
        now: datetime,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        base = {
            **(extra or {}),  # what the gate asked to record with the outcome (the incident key), a digest's entries
            "attempts": attempts,
            "channel_name": channel.name,
            "delivered_kind": channel.kind,
            "text": message.text,
            "gateway_ids": list(result.gateway_ids),
        }
        if result.outcome is Outcome.SENT:
            entry = sent_entry(self.config.topic, doc, kind=channel.kind, attempts=attempts, now=now)
            await self._finish(doc, {**base, "state": State.SENT, "sent_at": now}, entry=entry, history=history)
        elif result.outcome is Outcome.REJECTED:
            await self._failed(
                doc,
                result.error or "rejected",
                attempts=attempts,
                kind=channel.kind,
                now=now,
                extra=base,
                history=history,
            )
            # an invalid address goes on the suppression list, so nothing is sent to it again (storm_gate); after
            # the outcome's write, which matters more: a list that cannot be written is logged, not fatal
            try:
                await suppress_rejected(self.db, doc, address=message.to, error=result.error, now=now)
            except Exception:
                log.exception(
                    "notification %s: its rejected address could not be put on the suppression list", doc["_id"]
                )
        elif result.outcome is Outcome.UNKNOWN:
            check = now + timedelta(seconds=self.config.query_after_seconds)
            fields = {**base, "state": State.UNKNOWN, "check_at": check, "checks": 0, "error": result.error}
            await self._finish(doc, fields, history=history)
        elif attempts >= self.config.max_attempts:
            await self._failed(
                doc,
                f"gave up after {attempts} attempts: {result.error}",
                attempts=attempts,
                kind=channel.kind,
                now=now,
                state=State.DEAD,
                extra=base,
                history=history,
            )
        else:
            wait = self.config.schedule.after(attempts, retry_after=result.retry_after, rand=self.rand)
            fields = {**base, "state": State.PENDING, "due_at": now + timedelta(seconds=wait), "error": result.error}
            await self._finish(doc, fields, history=history)

    async def _failed(
        self,
        doc: Mapping[str, Any],
        error: str,
        *,
        attempts: int,
        kind: str,
        now: datetime,
        state: str = State.FAILED,
        extra: Mapping[str, Any] | None = None,
        history: list[dict[str, Any]] | None = None,
    ) -> None:
        entry = failed_entry(self.config.topic, doc, kind=kind, attempts=attempts, error=error, now=now)
        fields = {**(extra or {}), "state": state, "error": error, "attempts": attempts}
        await self._finish(doc, fields, entry=entry, history=history)

    async def _finish(
        self,
        doc: Mapping[str, Any],
        fields: Mapping[str, Any],
        *,
        entry: dict[str, Any] | None = None,
        history: list[dict[str, Any]] | None = None,
    ) -> bool:
        """Leave `sending` with this worker's lease: one write, the event (if any) in it."""
        update: dict[str, Any] = {
            "$set": {**fields, "updated_at": self.clock.now()},
            "$unset": {"lease_owner": "", "lease_until": ""},
        }
        if history:
            update["$push"] = {"history": {"$each": history}}
        if entry is not None:
            update = with_outbox(update, [entry])
        done = await self.notes.update_one(
            {"_id": doc["_id"], "state": State.SENDING, "lease_owner": self.owner}, update
        )
        if done.modified_count != 1:
            log.warning("notification %s: lease lost before its outcome was written (now unknown)", doc["_id"])
        return done.modified_count == 1
