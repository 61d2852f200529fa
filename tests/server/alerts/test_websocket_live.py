"""The dashboard stream through a real uvicorn server and a real WebSocket client (Mosquitto and
PostgreSQL real too): replay of current state on connect, each new alert once, replay again on
reconnect; no credentials, no stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI

from server.app import create_app
from tests.fixtures.services import MosquittoBroker, free_port
from tests.server.alerts.configs import STREAMS_HEAD
from tests.server.console.keys import api_key_headers
from tests.server.helpers import Publisher, make_settings, wait_until

STREAMS = (
    STREAMS_HEAD
    + """
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
"""
)

Message = dict[str, Any]


@contextlib.asynccontextmanager
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """uvicorn on a free loopback port, lifespan included; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until(lambda: _healthy(base, task), timeout=30, what="the server to be healthy")
        yield base
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def _healthy(base: str, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # raises the server's error
        raise AssertionError("the server stopped")
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{base}/health", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


def reading(value: float) -> str:
    return json.dumps({"value": value, "ts": datetime.now(UTC).isoformat()})


async def receive(ws: websockets.ClientConnection, timeout: float = 10) -> Message:
    message: Message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def messages_for(ws: websockets.ClientConnection, quiet_s: float) -> list[Message]:
    """Everything that arrives until nothing has for `quiet_s`."""
    got: list[Message] = []
    with contextlib.suppress(TimeoutError):
        while True:
            got.append(await receive(ws, quiet_s))
    return got


async def firing_ids(base: str, headers: dict[str, str]) -> set[str]:
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        alerts = (await client.get("/api/alerts", params={"state": "firing"})).json()
    return {alert["id"] for alert in alerts}


async def test_stream_replays_on_connect_delivers_once_and_replays_on_reconnect(
    pg_database: str, mqtt_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix))
    app = create_app(make_settings(pg_database, mqtt_broker.url, config))
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)
    try:
        async with live_server(app) as base:
            headers = await api_key_headers(app)
            ws_url = base.replace("http://", "ws://") + "/api/alerts/stream"

            publisher.publish_all([(f"{topic_prefix}/sensors/sal-1", reading(5.0))])
            await wait_until(lambda: _count(base, headers, 1), timeout=15, what="the first alert firing")
            (first_id,) = await firing_ids(base, headers)

            async with websockets.connect(ws_url, additional_headers=headers) as ws:
                snapshot = await receive(ws)
                assert snapshot["type"] == "snapshot"
                assert [(a["id"], a["state"], a["subject"]) for a in snapshot["alerts"]] == [
                    (first_id, "firing", "sal-1")
                ]

                publisher.publish_all([(f"{topic_prefix}/sensors/sal-2", reading(6.0))])
                live = await messages_for(ws, quiet_s=2.0)
            new = [m for m in live if m["type"] == "alert" and m["alert"]["subject"] == "sal-2"]
            assert [m["action"] for m in new if m["action"] == "firing"] == ["firing"]
            assert all(m["type"] == "alert" and m["alert"]["subject"] == "sal-2" for m in live), live
            second_id = new[0]["alert"]["id"]
            assert second_id != first_id

            async with websockets.connect(ws_url, additional_headers=headers) as ws:
                again = await receive(ws)
                assert again["type"] == "snapshot"
                assert {(a["id"], a["state"]) for a in again["alerts"]} == {
                    (first_id, "firing"),
                    (second_id, "firing"),
                }
                assert await messages_for(ws, quiet_s=1.0) == []  # a replay, not a re-delivery

            with pytest.raises((websockets.InvalidStatus, websockets.ConnectionClosed)):
                async with websockets.connect(ws_url) as ws:
                    await receive(ws)
    finally:
        publisher.close()


async def _count(base: str, headers: dict[str, str], expected: int) -> bool:
    return len(await firing_ids(base, headers)) == expected
