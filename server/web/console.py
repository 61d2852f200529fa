"""Installs access control, live view and the static console on the app, and runs them.

`Console.install(app)` adds the routers (each behind the route policy) and the static files;
the app lifespan starts it as a component: the auth service gets the connection pool, the first
admin is created if configured, and the live hub gets the cameras of streams.yaml. It is also an
ingest observer: detection events go to the overlay fan-out (`server.overlay`) for live viewers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from contract.config import StreamsConfig
from contract.config.cameras import RtspSource
from server.auth.deps import enforce_policy
from server.auth.policy import RoutePolicy
from server.auth.service import AuthService
from server.auth.settings import AuthSettings
from server.auth.store import AuthStore
from server.ingest.observers import NullObserver
from server.live.hub import LiveHub
from server.live.pull import SourceSpec
from server.live.settings import LiveSettings
from server.overlay.fanout import DetectionFanout, OverlaySettings
from server.state import AppState
from server.store.records import StoredEvent

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
POLICY = [Depends(enforce_policy)]


def live_sources(config: StreamsConfig) -> dict[str, SourceSpec]:
    sources = {}
    for camera in config.cameras:
        if not camera.enabled:
            continue
        source = camera.source
        if isinstance(source, RtspSource):
            sources[camera.id] = SourceSpec(camera.id, source.url, rtsp=True, tcp=source.transport == "tcp")
        else:
            sources[camera.id] = SourceSpec(camera.id, source.path, rtsp=False)
    return sources


def console_routers() -> list[APIRouter]:
    from server.api.routes import auth, live, users
    from server.web import routes

    return [auth.router, users.router, live.router, routes.router]


class Console(NullObserver):
    """A component of the app lifespan (see `server.state.Component`) and an ingest observer."""

    def __init__(
        self, auth: AuthSettings | None = None, live: LiveSettings | None = None, overlay: OverlaySettings | None = None
    ) -> None:
        self.auth_settings = auth or AuthSettings()
        self.live_settings = live or LiveSettings()
        self.overlay_settings = overlay or OverlaySettings()
        self._app: FastAPI | None = None
        self.hub: LiveHub | None = None
        self.overlay: DetectionFanout | None = None

    def install(self, app: FastAPI) -> Console:
        self._app = app
        app.state.route_policy = RoutePolicy()
        for router in console_routers():
            app.include_router(router, dependencies=POLICY)
        app.add_api_route("/", _index, include_in_schema=False, dependencies=POLICY)
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
        return self

    async def start(self, state: AppState) -> None:
        assert self._app is not None, "install() the console before starting it"
        service = AuthService(AuthStore(state.pool), self.auth_settings)
        await service.ensure_bootstrap_admin()
        self.hub = LiveHub(self.live_settings, live_sources(state.config))
        self.overlay = DetectionFanout(self.overlay_settings)
        self._app.state.auth = service
        self._app.state.live = self.hub
        self._app.state.overlay = self.overlay
        logger.info("console ready: %d cameras for live view", len(state.config.cameras))

    async def stop(self) -> None:
        if self.hub is not None:
            await self.hub.stop()
            self.hub = None
        self.overlay = None

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        if self.overlay is not None:
            await self.overlay.on_events(events)


async def _index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
