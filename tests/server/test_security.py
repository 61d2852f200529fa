"""Security checks across the API: no secret in any response or log line, ids never act as paths,
and the camera health the edge reports carries no credentials either."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import Publisher, make_settings, running_app, wait_until

RTSP_PASSWORD = "Rtsp-Pa55-9f3c1e"
WEBHOOK_SECRET = "whsec-0d1f9e8c7b6a5d4c3b2a1908"

STREAMS = """
version: 1
mqtt: {{topic_prefix: {prefix}}}
sites: [{{id: site-1, name: Site, location: {{lat: 9.6, lon: 105.97}}}}]
edge_workers: [{{id: w1}}]
cameras:
  - id: gate
    name: Gate
    site: site-1
    worker: w1
    source: {{type: rtsp, url: "rtsp://viewer:${{CAM_PASSWORD}}@10.0.0.9:554/live?token=${{CAM_PASSWORD}}"}}
    location: {{lat: 9.6, lon: 105.97}}
sensors:
  - {{id: sal-1, name: Salinity, kind: salinity, unit: "‰", site: site-1}}
channels:
  - {{id: hook, type: webhook, url: "https://hooks.example/ioc?key=${{HOOK_SECRET}}", secret: "${{HOOK_SECRET}}"}}
rules:
  - {{id: salt, type: threshold, sensors: [sal-1], raise: {{above: 4}}, clear: {{below: 3}}, channels: [hook]}}
"""

GET_ROUTES = [
    "/health",
    "/api/cameras",
    "/api/cameras/gate",
    "/api/sensors",
    "/api/config/status",
    "/api/console/layout",
    "/api/alerts",
    "/api/dead-letters",
    "/api/live/status",
    "/openapi.json",
]


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PASSWORD", RTSP_PASSWORD)
    monkeypatch.setenv("HOOK_SECRET", WEBHOOK_SECRET)


async def test_no_secret_in_responses_or_logs(
    secret_env: None,
    tmp_path: Path,
    pg_database: str,
    mqtt_broker: MosquittoBroker,
    topic_prefix: str,
    publisher: Publisher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix), encoding="utf-8")
    settings = make_settings(pg_database, mqtt_broker.url, config)
    async with running_app(settings) as client:
        status = {"v": 1, "camera_id": "gate", "worker_id": "w1", "state": "online", "ts": "2026-03-01T00:00:00Z"}
        publisher.publish_all([(f"{topic_prefix}/cameras/gate/status", json.dumps(status))])
        publisher.publish_all([(f"{topic_prefix}/sensors/sal-1", json.dumps({"value": 5.0}))])  # fires the rule
        await wait_until(lambda: _has_alert(client), 10, "the alert")
        bodies = {route: (await client.get(route)).text for route in GET_ROUTES}
    for route, body in bodies.items():
        assert RTSP_PASSWORD not in body, f"{route} leaks the camera password"
        assert WEBHOOK_SECRET not in body, f"{route} leaks the webhook secret"
    assert '"gate"' in bodies["/api/cameras"], "the camera is listed, only without its credentials"
    assert RTSP_PASSWORD not in caplog.text
    assert WEBHOOK_SECRET not in caplog.text


async def _has_alert(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/api/alerts")).json())


@pytest.mark.parametrize(
    "event_id",
    ["..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "....//....//etc/passwd", "%00", "a" * 300],
)
async def test_snapshot_ids_never_act_as_paths(
    event_id: str, pg_database: str, mqtt_broker: MosquittoBroker, streams_path: Path
) -> None:
    settings = make_settings(pg_database, mqtt_broker.url, streams_path, ingest_enabled=False)
    async with running_app(settings) as client:
        response = await client.get(f"/api/events/{event_id}/snapshot")
    assert response.status_code in (404, 422)
    assert b"root:" not in response.content
