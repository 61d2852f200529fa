"""Installs the console on the app: access control on every console router, the live view and
auth routes, and the static files. Its services (auth, live hub, overlay) are built by the app
lifespan (`server.app`), which owns every running part; `live_sources` maps streams.yaml to the
live hub's camera sources, at start and on every reload.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from contract.config import StreamsConfig
from contract.config.cameras import RtspSource
from server.auth.deps import enforce_policy
from server.live.pull import SourceSpec

STATIC_DIR = Path(__file__).parent / "static"
NODE_MODULES = Path(__file__).parent / "node_modules"
VENDOR = "vendor/"


class ConsoleFiles(StaticFiles):
    """The console's own files, and under `vendor/` the front-end libraries that `npm ci` installed
    in server/web/node_modules (served from here: no CDN, nothing fetched at run time). Without
    them the console still works: plain charts and the offline grid map."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR)
        self._vendor = StaticFiles(directory=NODE_MODULES, check_dir=False)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if path.startswith(VENDOR):
            return self._vendor.lookup_path(path.removeprefix(VENDOR))
        return super().lookup_path(path)


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
            phase_locked = source.loop and source.realtime
            sources[camera.id] = SourceSpec(camera.id, source.path, rtsp=False, phase_locked=phase_locked)
    return sources


def console_routers() -> list[APIRouter]:
    from server.api.routes import auth, live, users
    from server.web import routes

    return [auth.router, users.router, live.router, routes.router]


def install_console(app: FastAPI) -> None:
    """The console's routers (each behind the route policy), its index page and static files."""
    for router in console_routers():
        app.include_router(router, dependencies=POLICY)
    app.add_api_route("/", _index, include_in_schema=False, dependencies=POLICY)
    app.mount("/static", ConsoleFiles(), name="static")


async def _index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
