"""Incidents with two replicas (shared mode, real PostgreSQL): they run where the alert engine
runs, on the leader; a follower reads them (list, item, timeline, report) and serves handover
notes from the database, and refuses changes with 503 instead of acting on a copy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import websockets

from server.app import create_app
from server.notify.hub import Message
from tests.server.alerts.receiver import Receiver
from tests.server.alerts.test_websocket_live import live_server, receive
from tests.server.console.keys import api_key_headers
from tests.server.helpers import make_settings, wait_until
from tests.server.incidents.test_api import SECRET, STREAMS
from tests.server.replicas.replicas import RETRY_S, replica


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=204)
    yield found
    found.close()


async def test_a_follower_reads_incidents_and_refuses_changes(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(url=receiver.url, secret=SECRET, level2="1h"), encoding="utf-8")
    settings = make_settings(
        pg_database, "mqtt://127.0.0.1:1", config, ingest_enabled=False, replica_mode="shared",
        leader_retry_s=RETRY_S, replica_tail_poll_s=0.2,
    )  # fmt: skip
    async with replica("a", settings) as a, replica("b", settings) as b:
        leader, follower = (a, b) if a.is_leader else (b, a)
        at = datetime.now(UTC) - timedelta(minutes=1)
        await follower.store("sal-1", at, 5.0, datetime.now(UTC))  # stored anywhere, evaluated by the leader

        async def opened() -> bool:
            return len((await follower.client.get("/api/incidents")).json()) == 1

        await wait_until(opened, timeout=15, what="the incident, read on the follower")
        incident = (await follower.client.get("/api/incidents")).json()[0]
        path = f"/api/incidents/{incident['id']}"
        assert (await follower.client.get(path)).json()["state"] == "open"
        assert [e["kind"] for e in (await follower.client.get(f"{path}/timeline")).json()][:2] == ["opened", "linked"]
        assert (await follower.client.get("/api/reports/incidents")).json()["incidents"] == 1
        refused = await follower.client.post(f"{path}/transition", json={"to": "acknowledged"})
        assert refused.status_code == 503 and "leader" in refused.json()["detail"]
        assert (await leader.client.post(f"{path}/transition", json={"to": "acknowledged"})).status_code == 200
        note = await follower.client.post("/api/handover", json={"text": "ca sau theo dõi tiếp"})
        assert note.status_code == 201 and note.json()["items"][0]["state"] == "acknowledged"


async def test_a_followers_dashboard_stream_shows_the_leaders_incident_changes(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    """The leader opens and acknowledges an incident; a console on the follower (a real uvicorn
    server and WebSocket client) gets both changes on its dashboard stream, with their entries."""
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(url=receiver.url, secret=SECRET, level2="1h"), encoding="utf-8")
    settings = make_settings(
        pg_database, "mqtt://127.0.0.1:1", config, ingest_enabled=False, replica_mode="shared",
        leader_retry_s=RETRY_S, replica_tail_poll_s=0.2,
    )  # fmt: skip
    async with replica("a", settings) as leader:
        assert leader.is_leader
        follower = create_app(settings)
        async with live_server(follower) as base:
            assert not follower.state.ioc.leadership.is_leader
            headers = await api_key_headers(follower)
            url = base.replace("http", "ws") + "/api/alerts/stream"
            async with websockets.connect(url, additional_headers=headers) as ws:
                assert (await receive(ws))["type"] == "snapshot"
                at = datetime.now(UTC) - timedelta(minutes=1)
                await leader.store("sal-1", at, 5.0, datetime.now(UTC))
                opened = await _incident_message(ws, "open")
                incident = opened["incident"]
                assert incident["site"] == "long-phu"
                assert [e["kind"] for e in opened["entries"]][:2] == ["opened", "linked"], json.dumps(opened)
                path = f"/api/incidents/{incident['id']}/transition"
                assert (await leader.client.post(path, json={"to": "acknowledged"})).status_code == 200
                acked = await _incident_message(ws, "acknowledged")
        assert acked["incident"]["id"] == incident["id"]
        assert "state" in [e["kind"] for e in acked["entries"]], json.dumps(acked)


async def _incident_message(ws: websockets.ClientConnection, state: str, timeout: float = 15) -> Message:
    """The first incident message in `state` (alert messages and other changes are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await receive(ws, max(0.1, deadline - loop.time()))
        if message["type"] == "incident" and message["incident"]["state"] == state:
            return message
