"""Fixtures for the console tests: a streams.yaml with a real RTSP camera, fast password hashing,
and the whole app served by uvicorn on a free loopback port (for the browser)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from server.app import create_app
from server.auth.roles import Role
from server.auth.service import AuthService
from server.auth.settings import AuthSettings
from server.live.settings import LiveSettings
from server.settings import Settings
from tests.fixtures.browser import ARTIFACTS  # noqa: F401  (the console tests import it from here)
from tests.fixtures.services import free_port
from tests.server.helpers import make_settings

CAMERA_PASSWORD = "Cam-S3cret-9f2k"
ADMIN_PASSWORD = "Quan-tri-IOC-2026"
PASSWORDS = {Role.VIEWER: "xem-camera-2026", Role.RESPONDER: "ung-cuu-2026!", Role.OPERATOR: "van-hanh-2026!"}

STREAMS = """
version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites:
  - id: long-phu
    name: Huyện Long Phú
    timezone: Asia/Ho_Chi_Minh
    location: {{lat: 9.6120, lon: 106.1280}}
edge_workers:
  - id: edge-1
cameras:
  - id: cam-1
    name: Bến phà Đại Ngãi
    site: long-phu
    worker: edge-1
    source: {{type: rtsp, url: "{camera_url}"}}
    zones:
      - id: pier
        points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]
    location: {{lat: 9.6472, lon: 106.1700}}
sensors:
  - id: sal-1
    name: Độ mặn kênh Long Phú
    kind: salinity
    unit: "‰"
    site: long-phu
    range: {{min: 0, max: 45}}
    location: {{lat: 9.6150, lon: 106.1300}}
rules:
  - id: salinity-intrusion
    name: Xâm nhập mặn 4‰
    type: threshold
    sensors: [sal-1]
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
console:
  title: {{vi: IOC Sóc Trăng, en: Sóc Trăng IOC}}
"""


def log_in(page: object, url: str, username: str, password: str) -> None:
    page.goto(url)  # type: ignore[attr-defined]
    page.fill("#login-user", username)  # type: ignore[attr-defined]
    page.fill("#login-pass", password)  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]


def fast_auth(**overrides: object) -> AuthSettings:
    values: dict[str, object] = {
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8192,
        "bootstrap_password": ADMIN_PASSWORD,
    }
    values.update(overrides)
    return AuthSettings(**values)  # type: ignore[arg-type]


def write_console_streams(directory: Path, prefix: str, camera_url: str) -> Path:
    path = directory / "streams.yaml"
    path.write_text(STREAMS.format(prefix=prefix, camera_url=camera_url), encoding="utf-8")
    return path


def console_app(settings: Settings, **auth: object) -> FastAPI:
    live = LiveSettings(host_addresses=["127.0.0.1"], read_timeout_s=3.0, reopen_max_backoff_s=1.0)
    return create_app(settings, auth=fast_auth(**auth), live=live)


async def add_users(app: FastAPI) -> None:
    service: AuthService = app.state.ioc.auth
    for role, password in PASSWORDS.items():
        await service.create_user(role.value, password, role, display_name=role.value.title(), language="vi")


@dataclass
class LiveServer:
    app: FastAPI
    url: str
    settings: Settings


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own handlers
        return None


@pytest.fixture
def streams_with_camera(tmp_path: Path, topic_prefix: str, rtsp_server: object, moving_clip: Path) -> Path:
    server = rtsp_server({"cam": moving_clip}, fps=15, user="viewer", password=CAMERA_PASSWORD)  # type: ignore[operator]
    return write_console_streams(tmp_path, topic_prefix, server.url("cam", f"viewer:{CAMERA_PASSWORD}"))


@pytest.fixture
def served_console(pg_database: str, mqtt_broker: object, streams_with_camera: Path) -> Iterator[LiveServer]:
    """The whole app under uvicorn in a thread, with users of every role."""
    settings = make_settings(pg_database, mqtt_broker.url, streams_with_camera)  # type: ignore[attr-defined]
    with serve_console(settings) as served:
        yield served


@contextlib.contextmanager
def serve_console(settings: Settings) -> Iterator[LiveServer]:
    """The app for `settings` under uvicorn in a thread on a free port, with users of every role."""
    app = console_app(settings)
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    asyncio.run_coroutine_threadsafe(add_users(app), server_loop(server)).result(timeout=30)
    try:
        yield LiveServer(app, f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def server_loop(server: uvicorn.Server) -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop = server.servers[0].get_loop() if server.servers else asyncio.get_event_loop()
    return loop
