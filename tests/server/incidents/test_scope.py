"""The route x role matrix grows a scope dimension (real app, PostgreSQL, Mosquitto): for every
role, a key scoped to the item's site and an unscoped key see the Long Phú sensor, camera, alert,
incident and dashboard messages; a key scoped to Trần Đề sees none of them (404 for an item,
filtered lists), and acting on them answers 404 too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.auth.roles import Role
from tests.server.console.conftest import ADMIN_PASSWORD, console_app
from tests.server.helpers import make_settings
from tests.server.incidents.appkit import fire

STREAMS = """
version: 1
mqtt: {prefix}
sites: [{{id: long-phu, name: Long Phú}}, {{id: tran-de, name: Trần Đề}}]
edge_workers: [{{id: edge-1}}]
cameras:
  - {{id: cam-lp, name: Cổng chợ, site: long-phu, worker: edge-1, source: {{type: rtsp, url: "rtsp://127.0.0.1:9/a"}}}}
  - {{id: cam-td, name: Cầu tàu, site: tran-de, worker: edge-1, source: {{type: rtsp, url: "rtsp://127.0.0.1:9/b"}}}}
sensors:
  - {{id: sal-lp, name: Mặn LP, kind: salinity, unit: "‰", site: long-phu, range: {{min: 0, max: 45}}}}
  - {{id: sal-td, name: Mặn TĐ, kind: salinity, unit: "‰", site: tran-de, range: {{min: 0, max: 45}}}}
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    incident: {{type: salinity}}
"""
SCOPES: list[list[str] | None] = [None, ["long-phu"], ["tran-de"]]
ROLES = [Role.VIEWER, Role.RESPONDER, Role.OPERATOR, Role.ADMIN]


@pytest.fixture
def client(pg_database: str, mqtt_broker: Any, tmp_path: Path, topic_prefix: str) -> Iterator[TestClient]:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=f"{{topic_prefix: {topic_prefix}, shared_group: null}}"), "utf-8")
    settings = make_settings(pg_database, mqtt_broker.url, config)
    with TestClient(console_app(settings)) as test_client:
        yield test_client


def keys(client: TestClient) -> dict[tuple[Role, str], dict[str, str]]:
    login = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    admin = {"Authorization": f"Bearer {login.json()['token']}"}
    found = {}
    for role in ROLES:
        for scope in SCOPES:
            name = f"{role.value}-{'-'.join(scope or ['all'])}"
            created = client.post(
                "/api/api-keys", json={"name": name, "role": role.value, "sites": scope}, headers=admin
            )
            assert created.status_code == 201, created.text
            assert created.json()["sites"] == scope
            found[(role, ",".join(scope or ["all"]))] = {"X-API-Key": created.json()["key"]}
    unknown = client.post("/api/api-keys", json={"name": "x", "sites": ["soc-trang"]}, headers=admin)
    assert unknown.status_code == 422 and "soc-trang" in unknown.text
    client.cookies.clear()
    return found


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in items}


def sees_long_phu(client: TestClient, headers: dict[str, str], alert_id: str, incident_id: str) -> dict[str, bool]:
    """What this caller can see of Long Phú, route by route."""

    def ok(path: str) -> bool:
        status = client.get(path, headers=headers).status_code
        assert status in (200, 404), f"{path}: {status}"
        return status == 200

    layout = client.get("/api/console/layout", headers=headers).json()
    return {
        "sensor list": "sal-lp" in _ids(client.get("/api/sensors", headers=headers).json()),
        "sensor": ok("/api/sensors/sal-lp"),
        "readings": ok("/api/sensors/sal-lp/readings"),
        "camera list": "cam-lp" in _ids(client.get("/api/cameras", headers=headers).json()),
        "camera": ok("/api/cameras/cam-lp"),
        "layout": "cam-lp" in _ids(layout["cameras"]) and "sal-lp" in _ids(layout["sensors"]),
        "alert list": alert_id in _ids(client.get("/api/alerts", headers=headers).json()),
        "alert": ok(f"/api/alerts/{alert_id}"),
        "alert history": ok(f"/api/alerts/{alert_id}/history"),
        "incident list": incident_id in _ids(client.get("/api/incidents", headers=headers).json()),
        "incident": ok(f"/api/incidents/{incident_id}"),
        "timeline": ok(f"/api/incidents/{incident_id}/timeline"),
        "overlay": _overlay_accepted(client, headers),
        "stream": alert_id in _stream_alerts(client, headers),
    }


def _overlay_accepted(client: TestClient, headers: dict[str, str]) -> bool:
    try:
        with client.websocket_connect("/api/live/cam-lp/detections", headers=headers) as socket:
            return bool(socket.receive_json()["type"] == "snapshot")
    except WebSocketDisconnect as exc:
        assert exc.code == 4404
        return False


def _stream_alerts(client: TestClient, headers: dict[str, str]) -> set[str]:
    with client.websocket_connect("/api/alerts/stream", headers=headers) as socket:
        snapshot = socket.receive_json()
    assert snapshot["type"] == "snapshot"
    return _ids(snapshot["alerts"])


def test_route_role_scope_matrix(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    portal = client.portal  # type: ignore[attr-defined]
    portal.call(fire, app, "sal-lp")
    portal.call(fire, app, "sal-td")
    by_scope = keys(client)
    admin = by_scope[(Role.ADMIN, "all")]
    incidents = _wait_for_incidents(client, admin)
    incident = next(i for i in incidents if i["site"] == "long-phu")
    alert_id = incident["alerts"][0]["id"]
    checked = 0
    for (role, scope), headers in by_scope.items():
        seen = sees_long_phu(client, headers, alert_id, incident["id"])
        expected = scope != "tran-de"
        wrong = {route: value for route, value in seen.items() if value != expected}
        assert not wrong, f"{role.value} scoped to {scope}: {wrong}"
        others = _ids(client.get("/api/incidents", headers=headers).json())
        assert (len(others) == 2) == (scope == "all"), f"{role.value} scoped to {scope} lists {others}"
        if role != Role.VIEWER:  # acting: a responder may comment; outside the scope it does not exist
            status = client.post(
                f"/api/incidents/{incident['id']}/comments", json={"text": f"{role.value}"}, headers=headers
            ).status_code
            assert status == (200 if expected else 404), f"{role.value} scoped to {scope}: comment {status}"
            ack = client.post(f"/api/alerts/{alert_id}/acknowledge", json={}, headers=headers).status_code
            assert (ack == 404) == (not expected), f"{role.value} scoped to {scope}: acknowledge {ack}"
        if role in (Role.OPERATOR, Role.ADMIN):  # silences: a scoped operator silences its own sites only
            body = {"matchers": {"site": "long-phu", "rule": "salinity-4"}, "duration_s": 60}
            made = client.post("/api/silences", json=body, headers=headers)
            assert made.status_code == (201 if expected else 403), f"{role.value} scoped to {scope}: {made.text}"
            if made.status_code == 201:
                listed = _ids(client.get("/api/silences", headers=by_scope[(Role.VIEWER, "tran-de")]).json())
                assert made.json()["id"] not in listed
                gone = client.delete(f"/api/silences/{made.json()['id']}", headers=by_scope[(Role.ADMIN, "tran-de")])
                assert gone.status_code == 404
                assert client.delete(f"/api/silences/{made.json()['id']}", headers=headers).status_code == 200
        checked += len(seen)
    assert checked == len(ROLES) * len(SCOPES) * 14


def _wait_for_incidents(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found: list[dict[str, Any]] = client.get("/api/incidents", headers=headers).json()
        if len(found) == 2:
            return found
        time.sleep(0.05)
    raise AssertionError(f"two incidents expected: {json.dumps(found)}")
