"""Detection overlay: an edge event published over MQTT to a running server reaches a real WebSocket
client on the camera's overlay route; replay for late joiners; stale events, unknown cameras and
missing credentials; slow clients cut off and counted without slowing the others."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets

from server.auth.roles import Role
from server.overlay.fanout import DetectionFanout, OverlaySettings
from server.store.records import StoredEvent
from tests.server.console.conftest import PASSWORDS, LiveServer
from tests.server.console.overlay_events import detection_event, events_topic
from tests.server.helpers import Publisher

Message = dict[str, Any]


async def receive(ws: websockets.ClientConnection, timeout: float = 10) -> Message:
    message: Message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def viewer_headers(base: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base) as client:
        login = await client.post("/api/auth/login", json={"username": "viewer", "password": PASSWORDS[Role.VIEWER]})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def test_published_detection_reaches_the_overlay_websocket(served_console: LiveServer, mqtt_broker: Any) -> None:
    prefix = served_console.app.state.ioc.config.mqtt.topic_prefix
    ws_base = served_console.url.replace("http://", "ws://")
    headers = await viewer_headers(served_console.url)
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)
    try:
        async with websockets.connect(f"{ws_base}/api/live/cam-1/detections", additional_headers=headers) as ws:
            assert await receive(ws) == {"type": "snapshot", "camera_id": "cam-1", "detections": []}

            stale = detection_event(age_s=300, track_id=1)  # a redelivered backlog: stored, not drawn
            fresh = detection_event(track_id=7)
            publisher.publish_all([(events_topic(prefix), stale.model_dump_json())])
            publisher.publish_all([(events_topic(prefix), fresh.model_dump_json())])
            message = await receive(ws)
            assert message["type"] == "detection"
            detection = message["detection"]
            assert detection["id"] == fresh.id and detection["camera_id"] == "cam-1"
            assert detection["kind"] == "zone_enter" and detection["zone"] == "pier"
            assert detection["label"] == "person" and detection["track_id"] == 7
            assert detection["box"] == [0.30, 0.25, 0.55, 0.80] and detection["confidence"] == 0.87
            assert 0 <= detection["lag_ms"] < 5000
            assert "worker_id" not in detection

            # A viewer who joins now gets the recent detection at once.
            async with websockets.connect(f"{ws_base}/api/live/cam-1/detections", additional_headers=headers) as late:
                snapshot = await receive(late)
            assert [d["id"] for d in snapshot["detections"]] == [fresh.id]

        async with httpx.AsyncClient(base_url=served_console.url, headers=headers) as client:
            status = (await client.get("/api/live/overlay/status")).json()
            layout = (await client.get("/api/console/layout")).json()
        assert status["published"] == 1 and status["delivered"] == 1 and status["stale"] == 1
        assert layout["cameras"][0]["zone_shapes"] == [
            {"id": "pier", "name": "pier", "points": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]}
        ]
    finally:
        publisher.close()


async def test_overlay_refuses_unknown_cameras_and_anonymous_clients(served_console: LiveServer) -> None:
    ws_base = served_console.url.replace("http://", "ws://")
    headers = await viewer_headers(served_console.url)
    async with websockets.connect(f"{ws_base}/api/live/no-such-cam/detections", additional_headers=headers) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    with pytest.raises((websockets.InvalidStatus, websockets.ConnectionClosed)):
        async with websockets.connect(f"{ws_base}/api/live/cam-1/detections") as ws:
            await receive(ws)


def stored(camera_id: str, n: int, age_s: float = 0.0) -> StoredEvent:
    now = datetime.now(UTC)
    return StoredEvent(
        id=f"ev-{camera_id}-{n}",
        camera_id=camera_id,
        time=now - timedelta(seconds=age_s),
        kind="object_seen",
        received_at=now,
        label="car",
        box=(0.1, 0.1, 0.2, 0.2),
        track_id=n,
    )


async def test_a_slow_client_is_cut_off_and_counted_without_holding_back_the_others() -> None:
    fanout = DetectionFanout(OverlaySettings(queue_size=4, recent_max=3, max_clients_per_camera=2))
    slow, fast, other = fanout.subscribe("cam-1"), fanout.subscribe("cam-1"), fanout.subscribe("cam-2")
    with pytest.raises(ConnectionRefusedError):
        fanout.subscribe("cam-1")
    for subscription in (slow, fast, other):
        assert (await subscription.next())["type"] == "snapshot"  # type: ignore[index]

    got: list[str] = []
    for n in range(10):
        await fanout.on_events([stored("cam-1", n)])
        message = await fast.next()
        assert message is not None
        got.append(message["detection"]["id"])
    assert got == [f"ev-cam-1-{n}" for n in range(10)]  # the fast client got every one, in order
    assert await slow.next() is None  # the slow one was cut off: nothing stale left to read
    assert fanout.cut_off == 1 and fanout.clients("cam-1") == 1
    assert fanout.published == 10 and fanout.delivered == 10 + 4
    assert other.queue.empty()  # another camera's client sees nothing of cam-1

    await fanout.on_events([stored("cam-1", 99, age_s=120)])
    assert fanout.stale == 1 and fast.queue.empty()
    late = fanout.subscribe("cam-1")
    replay = await late.next()
    assert replay is not None and [d["id"] for d in replay["detections"]] == [f"ev-cam-1-{n}" for n in (7, 8, 9)]
    fanout.unsubscribe(late)
    fanout.unsubscribe(fast)
    fanout.unsubscribe(other)
    assert fanout.clients() == 0
