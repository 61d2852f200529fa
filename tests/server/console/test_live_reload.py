"""The live view follows streams.yaml while the server runs: a camera added, removed or changed is
viewable (or gone) without a restart, through the same API a browser uses."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.fixtures.services import MosquittoBroker, free_port
from tests.server.console.conftest import CAMERA_PASSWORD, console_app
from tests.server.helpers import make_settings, running_app, wait_until

ADDED_CAMERA = """
  - id: cam-2
    name: Added while running
    site: long-phu
    worker: edge-1
    source: {{type: rtsp, url: "{url}"}}
"""


async def _live_cameras(client: httpx.AsyncClient) -> set[str]:
    response = await client.get("/api/live/status")
    assert response.status_code == 200, response.text
    return set(response.json())


async def test_cameras_added_removed_and_changed_in_streams_yaml_are_followed(
    pg_database: str, mqtt_broker: MosquittoBroker, streams_with_camera: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(pg_database, mqtt_broker.url, streams_with_camera, config_reload_interval_s=0.2)
    app = console_app(settings)
    text = streams_with_camera.read_text(encoding="utf-8")
    url = text.split('url: "', 1)[1].split('"', 1)[0]
    async with running_app(settings, app) as client:
        assert await _live_cameras(client) == {"cam-1"}
        assert (await client.get("/api/live/cam-2/snapshot.jpg")).status_code == 404

        added = text.replace("cameras:\n", "cameras:" + ADDED_CAMERA.format(url=url), 1)
        streams_with_camera.write_text(added, encoding="utf-8")
        await wait_until(lambda: _has(client, "cam-2"), 10, "cam-2 in the live view")
        snapshot = await client.get("/api/live/cam-2/snapshot.jpg")
        assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"

        caplog.set_level(logging.INFO, logger="server.live")
        unreachable = f"rtsp://viewer:{CAMERA_PASSWORD}@127.0.0.1:{free_port()}/cam"
        changed = added.replace(f'url: "{url}"', f'url: "{unreachable}"', 1)  # cam-2's block comes first
        streams_with_camera.write_text(changed, encoding="utf-8")
        await wait_until(lambda: _status_has_failures(client, "cam-2"), 20, "cam-2 pulled from its new URL")
        # PyAV's error names the URL with its password: the log shows it redacted.
        assert "cam-2: cannot open rtsp://viewer:***@" in caplog.text
        assert CAMERA_PASSWORD not in caplog.text

        streams_with_camera.write_text(text, encoding="utf-8")
        await wait_until(lambda: _lacks(client, "cam-2"), 10, "cam-2 gone from the live view")
        assert (await client.get("/api/live/cam-2/snapshot.jpg")).status_code == 404
        assert (await client.get("/api/live/cam-1/snapshot.jpg")).status_code == 200


async def _has(client: httpx.AsyncClient, camera_id: str) -> bool:
    return camera_id in await _live_cameras(client)


async def _lacks(client: httpx.AsyncClient, camera_id: str) -> bool:
    return camera_id not in await _live_cameras(client)


async def _status_has_failures(client: httpx.AsyncClient, camera_id: str) -> bool:
    """A snapshot of the changed camera tries its new (unreachable) URL, and the failure is counted.
    A picture can still come from the old URL until the reload is applied (a snapshot takes a
    fraction of a second since the pull keeps the camera's first keyframe); then ask again."""
    snapshot = await client.get(f"/api/live/{camera_id}/snapshot.jpg", timeout=30)
    if snapshot.status_code == 200:
        return False
    assert snapshot.status_code == 504, snapshot.text
    status = (await client.get("/api/live/status")).json()
    return bool(status[camera_id]["failures"] >= 1)
