"""Evidence test helpers: the edge worker fixtures, and reading recorded MP4 files back with PyAV."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import av
import uvicorn
from fastapi import FastAPI

from server.app import create_app
from server.auth.roles import Role
from server.auth.service import AuthService
from server.auth.tokens import NewApiKey, new_api_key
from server.evidence.settings import EvidenceSettings
from server.live.settings import LiveSettings
from tests.edge.conftest import model_path, recorder, run_worker  # noqa: F401 - fixtures shared with edge tests
from tests.server.conftest import publisher  # noqa: F401 - a fixture shared with server tests
from tests.server.console.conftest import _Server, fast_auth, server_loop
from tests.server.helpers import make_settings

T = TypeVar("T")


def decoded_frames(path: Path) -> int:
    """Decode every frame of an MP4 file (raises on a broken file)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def keyframe_first(path: Path) -> bool:
    with av.open(str(path)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        return bool(first.is_keyframe)


EVIDENCE_STREAMS = """
version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites:
  - id: dai-ngai
    name: Bến phà Đại Ngãi
    timezone: Asia/Ho_Chi_Minh
edge_workers:
  - id: edge-test
    stats_interval: 1s
    clip_queue_max: {queue_max}
detectors:
  default: {{type: onnx, model: "{model}", imgsz: 320, max_batch: 4}}
cameras:
  - id: pier
    name: Cầu tàu
    site: dai-ngai
    worker: edge-test
    source: {{type: rtsp, url: "{url}"}}
    detect: {{fps: 5, classes: [person]}}
    record: {{mode: {mode}, segment: 2s, pre_roll: 2s, post_roll: 2s, max_clip: 10s}}
"""


def write_evidence_streams(
    directory: Path, prefix: str, url: str, model: Path, mode: str = "events", queue_max: int = 500
) -> Path:
    path = directory / "streams.yaml"
    text = EVIDENCE_STREAMS.format(prefix=prefix, url=url, model=model, mode=mode, queue_max=queue_max)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class ServedApp:
    app: FastAPI
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def call(self, job: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(job, server_loop(self.server)).result(timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve_app(app: FastAPI, port: int) -> ServedApp:
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    return ServedApp(app, f"http://127.0.0.1:{port}", server, thread)


def evidence_app(database_url: str, mqtt_url: str, streams: Path, clip_dir: Path) -> FastAPI:
    settings = make_settings(database_url, mqtt_url, streams)
    live = LiveSettings(host_addresses=["127.0.0.1"], read_timeout_s=3.0, reopen_max_backoff_s=1.0)
    return create_app(settings, auth=fast_auth(), live=live, evidence=EvidenceSettings(clip_dir=clip_dir))


async def register_key(app: FastAPI, key: NewApiKey, role: Role, sites: list[str] | None = None) -> None:
    service: AuthService = app.state.ioc.auth
    await service.store.create_api_key(f"key-{key.prefix}", key.prefix, key.sha256, role, None, sites)


async def key_for(app: FastAPI, role: Role, sites: list[str] | None = None) -> dict[str, str]:
    """`X-API-Key` headers of a fresh key with `role`, limited to `sites` when given."""
    fresh = new_api_key()
    await register_key(app, fresh, role, sites)
    return {"X-API-Key": fresh.key}


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    found = predicate()
    assert found, f"timed out after {timeout}s waiting for {what}"
    return found
