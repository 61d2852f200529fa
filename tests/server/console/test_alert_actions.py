"""Alert actions record the logged-in caller, whatever the body claims; a responder acknowledges only
the alerts assigned to them. Through the real app, database and broker: a reading over MQTT fires
a real alert."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.console.conftest import ADMIN_PASSWORD, console_app, write_console_streams
from tests.server.helpers import Publisher, make_settings

IMPOSTOR = "mallory"


@pytest.fixture
def client(pg_database: str, mqtt_broker: object, tmp_path: Path, topic_prefix: str) -> Iterator[TestClient]:
    streams = write_console_streams(tmp_path, topic_prefix, "rtsp://viewer:pw@127.0.0.1:9/none")
    settings = make_settings(pg_database, mqtt_broker.url, streams)  # type: ignore[attr-defined]
    with TestClient(console_app(settings)) as test_client:
        yield test_client


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.cookies.clear()  # only the header says who calls
    return {"Authorization": f"Bearer {response.json()['token']}"}


def add_user(client: TestClient, admin: dict[str, str], name: str, role: str) -> dict[str, str]:
    password = f"mat-khau-ca-{len(name)}-2026"
    created = client.post("/api/users", json={"username": name, "password": password, "role": role}, headers=admin)
    assert created.status_code == 201, created.text
    return login(client, name, password)


def fire_alert(client: TestClient, broker: Any, headers: dict[str, str]) -> dict[str, Any]:
    prefix = client.app.state.ioc.config.mqtt.topic_prefix  # type: ignore[attr-defined]
    publisher = Publisher(broker.host, broker.port)
    try:
        reading = {"value": 5.2, "ts": datetime.now(UTC).isoformat()}
        publisher.publish_all([(f"{prefix}/sensors/sal-1", json.dumps(reading))])
    finally:
        publisher.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        alerts = client.get("/api/alerts", params={"state": "firing"}, headers=headers).json()
        if alerts:
            assert len(alerts) == 1
            first: dict[str, Any] = alerts[0]
            return first
        time.sleep(0.05)
    raise AssertionError("no alert fired")


def history(client: TestClient, alert_id: str, headers: dict[str, str]) -> list[tuple[str, str | None, str | None]]:
    entries = client.get(f"/api/alerts/{alert_id}/history", headers=headers).json()
    return [(entry["action"], entry["actor"], entry["note"]) for entry in entries]


def test_actions_take_the_actor_from_the_caller(client: TestClient, mqtt_broker: object) -> None:
    admin = login(client, "admin", ADMIN_PASSWORD)
    tuan = add_user(client, admin, "tuan", "responder")
    hoa = add_user(client, admin, "hoa", "responder")
    lan = add_user(client, admin, "lan", "operator")
    alert = fire_alert(client, mqtt_broker, lan)
    ack, assign = f"/api/alerts/{alert['id']}/acknowledge", f"/api/alerts/{alert['id']}/assign"

    # A responder cannot acknowledge an alert nobody assigned to them.
    refused = client.post(ack, json={"by": "tuan"}, headers=tuan)
    assert refused.status_code == 403, refused.text
    assert "assigned" in refused.json()["detail"]

    # The operator assigns it to tuan; the body's claimed name is ignored.
    assigned = client.post(assign, json={"assignee": "tuan", "by": IMPOSTOR}, headers=lan)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee"] == "tuan"

    # Another responder still may not; tuan may, and the history says tuan, not the claimed name.
    assert client.post(ack, json={}, headers=hoa).status_code == 403
    acked = client.post(ack, json={"by": IMPOSTOR, "note": "đang tới cống"}, headers=tuan)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == "tuan" and acked.json()["state"] == "acknowledged"

    # Resolve without any body at all: the operator is recorded.
    resolved = client.post(f"/api/alerts/{alert['id']}/resolve", headers=lan)
    assert resolved.status_code == 200, resolved.text
    assert history(client, alert["id"], lan)[-3:] == [
        ("assigned", "lan", "assigned to tuan"),
        ("acknowledged", "tuan", "đang tới cống"),
        ("resolved", "lan", None),
    ]
    assert IMPOSTOR not in client.get(f"/api/alerts/{alert['id']}/history", headers=lan).text


def test_operator_acknowledges_any_alert_and_silences_carry_the_caller(client: TestClient, mqtt_broker: object) -> None:
    admin = login(client, "admin", ADMIN_PASSWORD)
    lan = add_user(client, admin, "lan", "operator")
    alert = fire_alert(client, mqtt_broker, lan)
    acked = client.post(f"/api/alerts/{alert['id']}/acknowledge", json={"by": IMPOSTOR}, headers=lan)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "lan"

    # A machine (API key) silences: the author is the key's name, not the body's.
    key = client.post("/api/api-keys", json={"name": "ioc-bridge", "role": "operator"}, headers=admin).json()
    machine = {"X-API-Key": key["key"]}
    body = {"matchers": {"rule": "salinity-intrusion"}, "duration_s": 600, "author": IMPOSTOR, "reason": "bảo trì"}
    silence = client.post("/api/silences", json=body, headers=machine)
    assert silence.status_code == 201, silence.text
    assert silence.json()["author"] == "key:ioc-bridge" and silence.json()["reason"] == "bảo trì"
    no_reason = client.post("/api/silences", json={"matchers": {"rule": "x"}, "duration_s": 60}, headers=lan)
    assert no_reason.status_code == 201 and no_reason.json()["author"] == "lan"
    expired = client.delete(f"/api/silences/{silence.json()['id']}", headers=lan)
    assert expired.status_code == 200 and expired.json()["active"] is False
    listing = client.get("/api/silences", headers=lan).text
    assert IMPOSTOR not in listing
