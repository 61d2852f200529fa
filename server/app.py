"""The app factory: `create_app(settings)`; every resource is opened and closed by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from psycopg_pool import AsyncConnectionPool

from contract.config import StreamsConfig, load_config
from contract.redact import SecretRedactor, install_log_redaction, secrets_of
from contract.timeutil import utc_now
from contract.topics import Topics
from server.api.errors import install_error_handlers
from server.api.routers import api_routers
from server.auth.policy import RoutePolicy
from server.auth.service import AuthService
from server.auth.settings import AuthSettings
from server.auth.store import AuthStore
from server.config_watch import ConfigReloader, ConfigStatus, Reloadable, file_digest
from server.db.migrate import migrate
from server.db.pool import create_pool
from server.db.timescale import DatabaseFeatures, detect_features
from server.evidence.audit import AuditMiddleware
from server.evidence.retention import EvidenceRetention
from server.evidence.settings import EvidenceSettings
from server.ingest.observers import IngestObserver, ObserverFanout
from server.ingest.service import IngestService
from server.leader_only import LeaderOnlyComponents
from server.leadership import Leadership, PgLeadership, SoleLeadership
from server.live.hub import LiveHub
from server.live.settings import LiveSettings
from server.loggers.service import station_files
from server.metrics import Metrics
from server.overlay.fanout import DetectionFanout, OverlaySettings
from server.settings import Settings
from server.state import Component, Services
from server.store.pg import PgStore
from server.store.retention import apply_retention, retention_by_table
from server.tasks import cancel_until_done
from server.web.console import POLICY, install_console, live_sources

if TYPE_CHECKING:
    from server.alerts.component import AlertComponent
    from server.alerts.replica import ReplicaAlerts
    from server.evidence.component import EvidenceComponent
    from server.incidents.component import IncidentComponent

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    auth: AuthSettings | None = None,
    live: LiveSettings | None = None,
    overlay: OverlaySettings | None = None,
    evidence: EvidenceSettings | None = None,
    alerts: bool = True,
    observers: Sequence[IngestObserver] = (),
    routers: Sequence[APIRouter] | None = None,
) -> FastAPI:
    """The FastAPI app, the one composition root: its lifespan builds one `Services` object from the
    settings the entry point made (`auth` and `live` default to their `IOC_AUTH_*` / `IOC_LIVE_*`
    environment, read here once), and routes reach it only through `server.api.deps`.
    `routers` defaults to `api_routers()` plus the alerts API; every router is behind the access
    policy and the console (auth, live view, web UI) is always installed. `alerts=False` runs no
    alert engine (its routes answer 503); `observers` see committed data before the built-in ones."""
    evidence_settings = evidence or EvidenceSettings()
    parts = _Parts(
        auth or AuthSettings(), live or LiveSettings(), overlay or OverlaySettings(), alerts, evidence_settings
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running(settings, parts, observers) as services:
            app.state.ioc = services
            yield

    app = FastAPI(
        title="IOC Monitor",
        description="Sensors, cameras, detection events and alerts of an Intelligent Operations Center.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_console(app)
    app.add_middleware(AuditMiddleware)
    for router in [*api_routers(), _alerts_router(), *_incident_routers()] if routers is None else routers:
        app.include_router(router, dependencies=POLICY)
    return app


@dataclass(frozen=True)
class _Parts:
    auth: AuthSettings
    live: LiveSettings
    overlay: OverlaySettings
    alerts: bool
    evidence: EvidenceSettings


def _alerts_router() -> APIRouter:
    from server.api.routes.alerts import router

    return router


def _incident_routers() -> list[APIRouter]:
    from server.api.routes import handover, incidents, reports

    return [incidents.router, handover.router, reports.router]


@contextlib.asynccontextmanager
async def _running(settings: Settings, parts: _Parts, observers: Sequence[IngestObserver]) -> AsyncIterator[Services]:
    digest = file_digest(settings.config)
    config = load_config(settings.config)
    # before any I/O
    redactor = install_log_redaction(secrets_of(settings, parts.auth, parts.live, parts.evidence, config))
    status = ConfigStatus(settings.config, digest, utc_now())
    logger.info("starting: %s", settings.describe())
    if settings.migrate_on_start:
        report = await migrate(settings.database_url)
        logger.info("migrations applied: %s", report.applied or "none pending")
    pool = create_pool(settings)
    await pool.open(wait=True, timeout=settings.db_timeout_s * 3)
    try:
        async with pool.connection() as conn:
            features = await detect_features(conn)
        services = _services(settings, parts, config, status, pool, features, observers, redactor)
        await services.auth.ensure_bootstrap_admin()
        services.alerts = _alert_component(settings, parts)
        leader_only: list[Component] = [] if services.alerts is None else [services.alerts]
        services.incidents = _incident_component(parts)
        leader_only.extend(c for c in (services.incidents, RetentionLoop()) if c is not None)
        services.replica_alerts = _replica_alerts(settings, parts)
        everywhere: list[Component] = [] if services.replica_alerts is None else [services.replica_alerts]
        services.evidence = _evidence_component(parts)
        everywhere.append(services.evidence)
        leader_only.append(EvidenceRetention())
        async with (
            _live(services),
            _components(services, everywhere, leader_only),
            _leadership(services),
            _ingest(services),
            _overlay_feed(services),
            station_files(services),
            _config_watch(services),
        ):
            yield services
    finally:
        await pool.close()


def _services(
    settings: Settings,
    parts: _Parts,
    config: StreamsConfig,
    status: ConfigStatus,
    pool: AsyncConnectionPool,
    features: DatabaseFeatures,
    observers: Sequence[IngestObserver],
    redactor: SecretRedactor,
) -> Services:
    metrics = Metrics()
    overlay = DetectionFanout(parts.overlay, metrics=metrics)
    observed: list[IngestObserver] = [*observers, overlay]
    leadership = _leadership_of(settings)
    return Services(
        settings=settings,
        config=config,
        metrics=metrics,
        pool=pool,
        store=PgStore(pool, features),
        features=features,
        observers=ObserverFanout(observed, on_failure=metrics.observer_failures.inc),
        config_status=status,
        auth=AuthService(AuthStore(pool), parts.auth),
        route_policy=RoutePolicy(),
        live=LiveHub(parts.live, live_sources(config), metrics=metrics),
        overlay=overlay,
        redactor=redactor,
        leadership=leadership,
        leader_only=LeaderOnlyComponents(leadership, metrics),
    )


def _leadership_of(settings: Settings) -> Leadership:
    if settings.replica_mode == "shared":
        return PgLeadership(settings.database_url, settings.leader_retry_s, timeout_s=settings.db_timeout_s)
    return SoleLeadership()


def _replica_alerts(settings: Settings, parts: _Parts) -> ReplicaAlerts | None:
    """Shared replicas: the database-fed dashboard feed and the follower's alerts API, on every replica."""
    if settings.replica_mode != "shared" or not parts.alerts:
        return None
    from server.alerts.replica import ReplicaAlerts

    return ReplicaAlerts(settings.replica_command_timeout_s)


def _evidence_component(parts: _Parts) -> EvidenceComponent:
    from server.evidence.component import EvidenceComponent

    return EvidenceComponent(parts.evidence)


def _alert_component(settings: Settings, parts: _Parts) -> AlertComponent | None:
    from server.alerts.component import AlertComponent

    return AlertComponent(claim_lease_s=settings.outbox_claim_lease_s) if parts.alerts else None


def _incident_component(parts: _Parts) -> IncidentComponent | None:
    from server.incidents.component import IncidentComponent

    return IncidentComponent() if parts.alerts else None


@contextlib.asynccontextmanager
async def _live(services: Services) -> AsyncIterator[None]:
    logger.info("live view ready: %d cameras", len(services.live.camera_ids))
    try:
        yield
    finally:
        await services.live.stop()


class _LiveFollower:
    """Reloadable: the live hub follows the cameras of streams.yaml."""

    def __init__(self, hub: LiveHub) -> None:
        self._hub = hub

    async def reload(self, config: StreamsConfig) -> None:
        await self._hub.reconfigure(live_sources(config))


@contextlib.asynccontextmanager
async def _components(
    state: Services, components: list[Component], leader_only: list[Component]
) -> AsyncIterator[None]:
    """Start `components` now; `leader_only` ones are started by the leadership (`_leadership`).
    Both kinds are observers of the ingest when they implement `IngestObserver`."""
    started: list[Component] = []
    try:
        for component in components:
            await component.start(state)
            started.append(component)
            if isinstance(component, IngestObserver):
                state.observers.add(component)
        for component in leader_only:
            await state.leader_only.add(component)
            if isinstance(component, IngestObserver):
                state.observers.add(component)
        state.components = [*started, *leader_only]
        yield
    finally:
        for component in reversed(started):
            await component.stop()


@contextlib.asynccontextmanager
async def _leadership(state: Services) -> AsyncIterator[None]:
    """Leadership decides where the leader-only components run (a single replica: here, now)."""
    state.leader_only.bind(state)
    await state.leadership.start()
    logger.info("replica role: %s (%s mode)", state.leadership.role, state.settings.replica_mode)
    try:
        yield
    finally:
        await state.leadership.stop()
        await state.leader_only.stop_all()


@contextlib.asynccontextmanager
async def _ingest(state: Services) -> AsyncIterator[None]:
    if not state.settings.ingest_enabled:
        yield
        return
    ingest = IngestService(state.settings, state.config, state.store, state.metrics, state.observers)
    state.ingest = ingest
    await ingest.start()
    try:
        yield
    finally:
        await ingest.stop()


@contextlib.asynccontextmanager
async def _overlay_feed(state: Services) -> AsyncIterator[None]:
    """Live detection frames and the edge workers' stats, on every replica (a plain subscription,
    never a shared one)."""
    if not state.settings.ingest_enabled:
        yield
        return
    from server.edge_stats import EdgeStatsBoard
    from server.overlay.feed import LiveFrameFeed
    from server.overlay.sources import frame_source

    topics = Topics(state.config.mqtt.topic_prefix)
    feed = LiveFrameFeed(
        asyncio.get_running_loop(),
        state.overlay,
        topics,
        lambda camera_id: state.config.camera(camera_id) is not None,
        state.metrics,
    )
    state.overlay_feed = feed
    board = EdgeStatsBoard(topics, lambda worker_id: any(w.id == worker_id for w in state.config.edge_workers))
    state.metrics.registry.register(board)
    state.edge_stats = board

    def offer(topic: str, payload: bytes) -> None:
        (feed.offer if topic.startswith("live/") else board.offer)(topic, payload)

    source = frame_source(state.settings, [topics.all_camera_detections, board.topic], offer, feed.count_dropped)
    await source.start()
    try:
        yield
    finally:
        await source.stop()
        state.metrics.registry.unregister(board)


@contextlib.asynccontextmanager
async def _config_watch(state: Services) -> AsyncIterator[None]:
    """streams.yaml edits reach the ingest and every component that can reload."""

    def apply(config: StreamsConfig) -> None:
        state.redactor.add(secrets_of(config))
        state.config = config

    def targets() -> list[Reloadable]:
        parts: list[object] = [state.ingest, _LiveFollower(state.live), *state.components]
        return [part for part in parts if isinstance(part, Reloadable)]

    watcher = ConfigReloader(state.config_status, apply, targets, state.settings.config_reload_interval_s)
    async with _background(watcher.run(), "config-watch"):
        yield


@contextlib.asynccontextmanager
async def _background(job: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    task = asyncio.create_task(job, name=name)
    try:
        yield
    finally:
        await cancel_until_done(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", name, exc_info=task.exception())


class RetentionLoop:
    """Leader-only component: removes old data every `retention_interval_s` (one replica at a time)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def start(self, state: Services) -> None:
        self._task = asyncio.create_task(self._loop(state), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_until_done(self._task)
            self._task = None

    async def _loop(self, state: Services) -> None:
        while True:
            try:
                await apply_retention(state.pool, state.features, retention_by_table(state.config.retention))
            except Exception:
                logger.exception("retention run failed; next try in %ss", state.settings.retention_interval_s)
            await asyncio.sleep(state.settings.retention_interval_s)
