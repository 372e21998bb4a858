"""One way to wire a service: its Kafka routers and HTTP routers, its database, its outbox relay, health and
metrics — so a reader who knows one service knows them all."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.specification import AsyncAPI
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from huying.clock import Clock, SystemClock
from huying.health import health_router
from huying.kafka import make_broker
from huying.mongo import make_mongo_client
from huying.outbox import OutboxRelay
from huying.settings import ServiceSettings
from huying.token import MissingSecret, check_credentials
from huying.topics import Topics

log = logging.getLogger("huying.service")


@dataclass
class Runtime:
    """What handlers may use, built in the lifespan and handed to them (FastStream: `Context("runtime")`,
    HTTP: `request.app.state.runtime`)."""

    settings: ServiceSettings
    topics: Topics
    clock: Clock
    broker: KafkaBroker
    mongo: AsyncMongoClient
    db: AsyncDatabase
    metrics: CollectorRegistry
    relay: OutboxRelay | None = None


@dataclass
class ServiceSpec:
    """A service's declaration: what it consumes (Kafka routers), serves (HTTP routers), owns and relays."""

    name: str
    title: str
    description: str
    settings: type[ServiceSettings]
    kafka_routers: Callable[[ServiceSettings, Topics], Sequence[KafkaRouter]]
    http_routers: Callable[[], Sequence[APIRouter]] = lambda: ()
    outbox_collections: Sequence[str] = ()
    setup: Callable[[Runtime], Awaitable[None]] | None = None
    # Runs first at shutdown, before the broker stops: e.g. finish and stop a background task the setup started.
    teardown: Callable[[Runtime], Awaitable[None]] | None = None
    # Readiness beyond Kafka and the database, shown by `/readyz` (e.g. sla-watch: every owned partition loaded).
    # Returns named checks; any False makes `/readyz` answer 503 with the check's name.
    readiness: Callable[[Runtime], Awaitable[dict[str, bool]]] | None = None
    extra: dict[str, object] = field(default_factory=dict)


def build_broker(
    spec: ServiceSpec, settings: ServiceSettings, registry: CollectorRegistry | None = None
) -> KafkaBroker:
    """The service's broker with its routers attached explicitly (also used to write the AsyncAPI document)."""
    broker = make_broker(settings, registry)
    for router in spec.kafka_routers(settings, Topics(settings.topic_prefix)):
        broker.include_router(router)
    return broker


def asyncapi(spec: ServiceSpec, settings: ServiceSettings) -> AsyncAPI:
    return AsyncAPI(
        build_broker(spec, settings), title=f"Huying {spec.title}", version="0.1.0", description=spec.description
    )


def create_app(spec: ServiceSpec, settings: ServiceSettings, *, clock: Clock | None = None) -> FastAPI:
    """The service as an ASGI app: HTTP edge plus the Kafka consumers, started and stopped by the lifespan.
    Raises MissingSecret without a token secret, unless HUYING_ENV=development."""
    check_credentials(settings, spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = CollectorRegistry()
        broker = build_broker(spec, settings, registry)
        mongo = make_mongo_client(settings)
        runtime = Runtime(
            settings=settings,
            topics=Topics(settings.topic_prefix),
            clock=clock or SystemClock(),
            broker=broker,
            mongo=mongo,
            db=mongo[settings.database_name],
            metrics=registry,
        )
        if spec.outbox_collections:
            runtime.relay = OutboxRelay(
                broker, [runtime.db[c] for c in spec.outbox_collections], poll_seconds=settings.outbox_poll_seconds
            )
        broker.context.set_global("runtime", runtime)
        app.state.runtime = runtime
        if spec.setup:
            await spec.setup(runtime)
        await broker.start()
        if runtime.relay:
            await runtime.relay.start()
        log.info("%s started: kafka=%s database=%s", spec.name, settings.kafka_bootstrap, settings.database_name)
        try:
            yield
        finally:
            if spec.teardown:
                await spec.teardown(runtime)
            if runtime.relay:
                await runtime.relay.stop()
            await broker.stop()
            await mongo.close()
            log.info("%s stopped", spec.name)

    app = FastAPI(title=f"Huying {spec.title}", description=spec.description, version="0.1.0", lifespan=lifespan)
    app.state.readiness = spec.readiness
    app.include_router(health_router())
    for router in spec.http_routers():
        app.include_router(router)
    return app


def serve(spec: ServiceSpec, settings: ServiceSettings) -> None:
    """Run the service in this process until SIGINT/SIGTERM (uvicorn handles both and runs the lifespan)."""
    import uvicorn

    from huying.logging import configure_logging

    configure_logging(spec.name, settings.log_level)
    try:
        app = create_app(spec, settings)
    except MissingSecret as error:
        raise SystemExit(f"{spec.name}: {error}") from None  # one line, no traceback: a configuration error
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)
