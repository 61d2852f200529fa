"""The alerts API on a follower replica (shared mode, real PostgreSQL): reads come from the
database, operator actions are applied by the leader through the command table and answered with
its result (or its error, the same status as on the leader), and the dashboard WebSocket of a
follower (a real uvicorn server and WebSocket client) shows the leader's changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets

from server.app import create_app
from server.db.migrate import migrate
from server.leadership import PgLeadership
from tests.server.alerts.receiver import Receiver
from tests.server.alerts.test_websocket_live import live_server, messages_for, receive
from tests.server.console.keys import api_key_headers
from tests.server.helpers import count_rows, running_app, wait_until
from tests.server.replicas.replicas import SECRET, Replica, replica, replica_settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=204)
    yield found
    found.close()


async def fire(on: Replica, value: float = 5.0, seconds: int = 1) -> None:
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    await on.store("sal-1", t0 + timedelta(seconds=seconds), value, datetime.now(UTC))


async def _rows(url: str, query: str, expected: int) -> bool:
    return await count_rows(url, query) == expected


async def _true(value: bool) -> bool:
    return value


async def firing_id(on: Replica) -> str:
    alerts: list[dict[str, Any]] = (await on.client.get("/api/alerts", params={"state": "firing"})).json()
    assert len(alerts) == 1
    return str(alerts[0]["id"])


async def test_an_acknowledge_sent_to_the_follower_is_applied_by_the_leader(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = replica_settings(pg_database, tmp_path, receiver.url)
    async with replica("a", settings) as a, replica("b", settings) as b:
        assert not b.alerts.running
        await fire(b)
        firing = "SELECT count(*) FROM alerts WHERE state = 'firing'"
        await wait_until(lambda: _rows(pg_database, firing, 1), timeout=10, what="the alert firing")
        alert_id = await firing_id(b)  # the follower reads the database

        answer = await b.client.post(f"/api/alerts/{alert_id}/acknowledge", json={"note": "on my way"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "acknowledged" and answer.json()["acknowledged_by"].startswith("key:")
        assert (await a.client.get(f"/api/alerts/{alert_id}")).json()["state"] == "acknowledged"
        history = (await b.client.get(f"/api/alerts/{alert_id}/history")).json()
        assert [(h["action"], h["note"]) for h in history][-1] == ("acknowledged", "on my way")

        assigned = await b.client.post(f"/api/alerts/{alert_id}/assign", json={"assignee": "lan"})
        assert assigned.status_code == 200 and assigned.json()["assignee"] == "lan"
        resolved = await b.client.post(f"/api/alerts/{alert_id}/resolve", json={})
        assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
        for path in (f"/api/alerts/{alert_id}/resolve", f"/api/alerts/{'0' * 8}-0000-0000-0000-{'0' * 12}/acknowledge"):
            on_leader, on_follower = await a.client.post(path, json={}), await b.client.post(path, json={})
            assert on_follower.status_code == on_leader.status_code >= 400
            assert on_follower.json() == on_leader.json()
        incidents = await b.client.get("/api/incidents")  # a follower reads incidents from the database
        assert incidents.status_code == 200 and incidents.json() == []
        change = await b.client.post(f"/api/incidents/{'0' * 8}-0000-0000-0000-{'0' * 12}/comments", json={"text": "x"})
        assert change.status_code == 503 and "leader" in change.json()["detail"]  # changes: on the leader, said so
        applier = a.alerts.commands
        assert applier is not None
        await wait_until(lambda: _true(applier.applied == 5), timeout=2, what="five commands applied")


async def test_silences_made_and_expired_on_the_follower(pg_database: str, tmp_path: Path, receiver: Receiver) -> None:
    settings = replica_settings(pg_database, tmp_path, receiver.url)
    async with replica("a", settings) as a, replica("b", settings) as b:
        made = await b.client.post("/api/silences", json={"matchers": {"site": "long-phu"}, "duration_s": 600})
        assert made.status_code == 201, made.text
        silence_id = made.json()["id"]
        for on in (a, b):
            assert [s["id"] for s in (await on.client.get("/api/silences")).json()] == [silence_id]
        expired = await b.client.delete(f"/api/silences/{silence_id}")
        assert expired.status_code == 200 and expired.json()["active"] is False
        assert (await b.client.get("/api/silences")).json() == []
        assert (await b.client.delete("/api/silences/nope")).status_code == 404


async def test_an_action_no_leader_takes_is_refused_and_never_applied(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = replica_settings(pg_database, tmp_path, receiver.url).model_copy(
        update={"replica_command_timeout_s": 0.5}
    )
    await migrate(pg_database)
    squatter = PgLeadership(pg_database, 60)  # holds the lock, runs no engine (a leader that hangs)
    await squatter.start()
    try:
        async with running_app(settings, create_app(settings)) as client:
            answer = await client.post(f"/api/alerts/{'1' * 8}-0000-0000-0000-{'0' * 12}/acknowledge", json={})
            assert answer.status_code == 503
            assert "no leader replica took the acknowledge within 0.5s; it was not applied" in answer.json()["detail"]
            assert "ioc_replica_commands_expired_total 1.0" in (await client.get("/metrics")).text
        assert await count_rows(pg_database, "SELECT count(*) FROM alert_commands WHERE state = 'expired'") == 1
    finally:
        await squatter.stop()


async def test_the_dashboard_stream_of_a_follower_shows_the_leaders_changes(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = replica_settings(pg_database, tmp_path, receiver.url)
    async with replica("a", settings) as a:
        await fire(a, 5.0, seconds=1)
        firing = "SELECT count(*) FROM alerts WHERE state = 'firing'"
        await wait_until(lambda: _rows(pg_database, firing, 1), timeout=10, what="the first alert")
        follower = create_app(settings)
        async with live_server(follower) as base:
            assert not follower.state.ioc.leadership.is_leader
            headers = await api_key_headers(follower)
            url = base.replace("http", "ws") + "/api/alerts/stream"
            async with websockets.connect(url, additional_headers=headers) as ws:
                snapshot = await receive(ws)
                assert [alert["state"] for alert in snapshot["alerts"]] == ["firing"]
                await fire(a, 3.0, seconds=2)  # stored and evaluated on the leader
                live = await messages_for(ws, quiet_s=1.5)
        assert [(m["action"], m["alert"]["state"]) for m in live] == [("resolved", "resolved")], json.dumps(live)
