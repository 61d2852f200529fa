"""The app factory: `create_app(settings)`; every resource is opened and closed by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI

from contract.config import StreamsConfig, load_config
from contract.timeutil import utc_now
from server.api.errors import install_error_handlers
from server.api.routers import api_routers
from server.config_watch import ConfigStatus, ConfigWatcher, Reloadable, file_digest
from server.db.migrate import migrate
from server.db.pool import create_pool
from server.db.timescale import detect_features
from server.ingest.observers import IngestObserver, ObserverFanout
from server.ingest.service import IngestService
from server.loggers.service import station_files
from server.metrics import Metrics
from server.settings import Settings
from server.state import AppState, Component
from server.store.pg import PgStore
from server.store.retention import apply_retention, retention_by_table
from server.web.console import POLICY, Console

logger = logging.getLogger(__name__)

ComponentFactory = Callable[[], Component]


def create_app(
    settings: Settings,
    *,
    routers: Sequence[APIRouter] | None = None,
    components: Sequence[ComponentFactory] | None = None,
    observers: Sequence[IngestObserver] = (),
    console: Console | None = None,
) -> FastAPI:
    """The FastAPI app. `routers` defaults to `api_routers()`; `components` are built per app start.
    Every router is included behind the access policy; `console` (auth, live view, web UI) always runs."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        factories = _default_components() if components is None else components
        async with _running(settings, [ui, *(factory() for factory in factories)], observers) as state:
            app.state.ioc = state
            yield

    app = FastAPI(
        title="IOC Monitor",
        description="Sensors, cameras, detection events and alerts of an Intelligent Operations Center.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    ui = (console or Console()).install(app)
    for router in [*api_routers(), _alerts_router()] if routers is None else routers:
        app.include_router(router, dependencies=POLICY)
    return app


def _default_components() -> list[ComponentFactory]:
    from server.alerts.component import AlertComponent

    return [AlertComponent]


def _alerts_router() -> APIRouter:
    from server.api.routes.alerts import router

    return router


@contextlib.asynccontextmanager
async def _running(
    settings: Settings, components: list[Component], observers: Sequence[IngestObserver]
) -> AsyncIterator[AppState]:
    digest = file_digest(settings.config)
    config = load_config(settings.config)
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
        metrics = Metrics()
        store = PgStore(pool, features)
        state = AppState(settings, config, metrics, pool, store, features, ObserverFanout(observers), status)
        async with (
            _components(state, components),
            _ingest(state),
            station_files(state),
            _retention(state),
            _config_watch(state),
        ):
            yield state
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def _components(state: AppState, components: list[Component]) -> AsyncIterator[None]:
    started: list[Component] = []
    try:
        for component in components:
            await component.start(state)
            started.append(component)
            if isinstance(component, IngestObserver):
                state.observers.add(component)
        state.components = started
        yield
    finally:
        for component in reversed(started):
            await component.stop()


@contextlib.asynccontextmanager
async def _ingest(state: AppState) -> AsyncIterator[None]:
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
async def _config_watch(state: AppState) -> AsyncIterator[None]:
    """streams.yaml edits reach the ingest and every component that can reload."""

    def apply(config: StreamsConfig) -> None:
        state.config = config

    def targets() -> list[Reloadable]:
        parts: list[object] = [state.ingest, *state.components]
        return [part for part in parts if isinstance(part, Reloadable)]

    watcher = ConfigWatcher(state.config_status, apply, targets, state.settings.config_reload_interval_s)
    async with _background(watcher.run(), "config-watch"):
        yield


@contextlib.asynccontextmanager
async def _background(job: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    task = asyncio.create_task(job, name=name)
    try:
        yield
    finally:
        # A library awaited inside the job may swallow one cancellation (psycopg does while a query
        # runs) and the loop would then sleep on: cancel until the task is really done.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", name, exc_info=task.exception())


@contextlib.asynccontextmanager
async def _retention(state: AppState) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            try:
                await apply_retention(state.pool, state.features, retention_by_table(state.config.retention))
            except Exception:
                logger.exception("retention run failed; next try in %ss", state.settings.retention_interval_s)
            await asyncio.sleep(state.settings.retention_interval_s)

    async with _background(loop(), "retention"):
        yield
