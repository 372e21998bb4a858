"""Wiring of the notify service: its routers, its database setup, its delivery worker, its HTTP edge."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from fastapi import FastAPI

from huying.clock import Clock
from huying.rebuild import read_models_ready
from huying.service import Runtime, ServiceSpec, create_app
from huying.settings import load_settings
from notify import api, handlers, store
from notify.channels.base import Channel, DeliveryReport
from notify.delivery.backoff import RetrySchedule
from notify.delivery.channels import ChannelSet
from notify.delivery.gate import Gate, always_send
from notify.delivery.planning import Planner
from notify.delivery.reports import settle
from notify.delivery.storm_gate import StormGate
from notify.delivery.worker import DeliveryConfig, Worker
from notify.domain.storm import load_storm_policy
from notify.policy import Catalog, load_catalog
from notify.policy.staff import load_staff
from notify.settings import NotifySettings

log = logging.getLogger("notify")
WORKER = api.WORKER


def configured_channels(settings: NotifySettings) -> list[Channel]:
    """The deployment's channels (`notify.channels.config`: HUYING_NOTIFY_CHANNELS or HUYING_NOTIFY_CHANNELS_FILE;
    with neither, the embedded outbox alone), those `use_channels` names if it names any, in configured order."""
    from notify.channels.config import build_channels, load_channels_config

    return list(build_channels(load_channels_config(), only=settings.use_channels).values())


def follow_reports(runtime: Runtime, channel_set: ChannelSet) -> None:
    """Channels that push reports themselves (CMPP's status reports) settle their notifications as they come."""
    topic = runtime.topics.notifications.name
    for channel in channel_set.channels:
        subscribe = getattr(channel, "subscribe", None)
        if not callable(subscribe):
            continue

        async def on_report(report: DeliveryReport, name: str = channel.name) -> None:
            try:
                found = await settle(runtime.db, report, topic=topic, now=runtime.clock.now(), channel_name=name)
                if found and runtime.relay:
                    runtime.relay.wake()
            except Exception:
                log.exception("%s: a delivery report could not be applied (a status query settles it later)", name)

        subscribe(on_report)


def delivery_config(settings: NotifySettings, topic: str) -> DeliveryConfig:
    return DeliveryConfig(
        topic=topic,
        max_attempts=settings.max_attempts,
        schedule=RetrySchedule(settings.backoff_initial_seconds, settings.backoff_max_seconds, settings.backoff_jitter),
        lease_seconds=settings.lease_seconds,
        send_timeout_seconds=settings.send_timeout_seconds,
        poll_seconds=settings.worker_poll_seconds,
        batch=settings.worker_batch,
        concurrency=settings.worker_concurrency,
        query_after_seconds=settings.unknown_query_seconds,
        unknown_checks=settings.unknown_checks,
        blocked_wait_seconds=min(settings.breaker_cooldown_seconds, 5.0),
    )


def storm_gate(runtime: Runtime, settings: NotifySettings, catalog: Catalog) -> Gate:
    """The default gate: the storm rules (HUYING_NOTIFY_STORM_RULES, on by default) or, turned off, send all. A storm
    file naming a rule the rules file does not have stops start-up."""
    if not settings.storm_rules:
        log.warning("storm and rate rules are off (HUYING_NOTIFY_STORM_RULES=false): everything due is sent")
        return always_send
    policy = load_storm_policy(settings.storm_policy_file)
    if unknown := policy.unknown_rules(catalog.rules):
        raise ValueError(f"{settings.storm_policy_file}: unknown rule ids {unknown}")
    return StormGate(runtime.db, policy)


def make_setup(
    channels: Callable[[NotifySettings], Sequence[Channel]] = configured_channels, gate: Gate | None = None
) -> Callable[[Runtime], object]:
    async def setup(runtime: Runtime) -> None:
        """Load the rules, templates and staff directory (a bad file stops start-up), create indexes, start the
        worker."""
        settings = runtime.settings
        assert isinstance(settings, NotifySettings)
        catalog, staff = load_catalog(), load_staff(settings.staff_file)
        channel_set = ChannelSet(
            list(channels(settings)),
            threshold=settings.breaker_threshold,
            cooldown=settings.breaker_cooldown_seconds,
            failover=settings.failover,
        )

        def wake_relay() -> None:
            if runtime.relay:
                runtime.relay.wake()

        worker = Worker(
            runtime.db,
            channels=channel_set,
            catalog=catalog,
            config=delivery_config(settings, runtime.topics.notifications.name),
            clock=runtime.clock,
            gate=gate if gate is not None else storm_gate(runtime, settings, catalog),  # notify.delivery.gate
            on_outbox=wake_relay,
            registry=runtime.metrics,
        )
        max_age = timedelta(hours=settings.plan_max_age_hours) if settings.plan_max_age_hours else None
        planner = Planner(catalog, staff, settings.unknown_ticket_grace_seconds, wake=worker.wake, max_age=max_age)
        runtime.broker.context.set_global(handlers.PLANNER, planner)
        runtime.broker.context.set_global(WORKER, worker)
        follow_reports(runtime, channel_set)
        await store.setup(runtime)
        await worker.start()
        log.info("notify delivers through %s", ", ".join(f"{c.name} ({c.kind})" for c in channel_set.channels))

    return setup


async def teardown(runtime: Runtime) -> None:
    worker: Worker | None = runtime.broker.context.get(WORKER)
    if worker is not None:
        await worker.stop()
        await worker.channels.close()


SPEC = ServiceSpec(
    name="notify",
    title="notify",
    description="Tells people what they must know, when they must know it: SMS, email, webhook.",
    settings=NotifySettings,
    kafka_routers=handlers.routers,
    http_routers=lambda: [api.router()],
    outbox_collections=(store.NOTIFICATIONS,),
    setup=make_setup(),
    teardown=teardown,
    readiness=read_models_ready,
)


def create(
    settings: NotifySettings | None = None,
    *,
    clock: Clock | None = None,
    channels: Sequence[Channel] | None = None,
    gate: Gate | None = None,
) -> FastAPI:
    """The service; `channels` replaces the configured ones (tests), `gate` the default (the storm rules, or send all
    with HUYING_NOTIFY_STORM_RULES=false)."""
    spec = SPEC
    if channels is not None or gate is not None:
        chosen = (lambda _settings: channels) if channels is not None else configured_channels
        spec = dataclasses.replace(SPEC, setup=make_setup(chosen, gate))
    return create_app(spec, settings or load_settings(NotifySettings), clock=clock)
