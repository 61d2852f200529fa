"""Detection overlay: an edge event published over MQTT to a running server reaches a real WebSocket
client on the camera's overlay route; replay for late joiners; stale events, unknown cameras and
missing credentials; slow clients cut off and counted without slowing the others. Live detection
frames (QoS 0, `live/<prefix>/cameras/<id>/detections`) reach the same clients, bad ones are refused
and counted; the route answers clock pings with the server's time, and says which cameras' frames
can be matched to the picture by time (RTSP, phase-locked looping files)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import httpx
import nats
import pytest
import websockets

from ioc.natsnode import NatsNode
from server.app import create_app
from server.auth.roles import Role
from server.overlay.fanout import DetectionFanout, OverlaySettings
from server.overlay.frames import MAX_FRAME_BYTES, InvalidFrameError, parse_frame
from server.store.records import StoredEvent
from tests.messaging.helpers import jetstream_settings
from tests.server.console.conftest import PASSWORDS, STREAMS, LiveServer, serve_console
from tests.server.console.indexed_clip import write_indexed_clip
from tests.server.console.overlay_events import detection_event, events_topic
from tests.server.helpers import Publisher, make_settings, running_app, write_streams

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
            assert await receive(ws) == {"type": "snapshot", "camera_id": "cam-1", "detections": [], "frames": []}
            # an RTSP camera: its live frames can be matched to the picture by time
            assert await receive(ws) == {"type": "source", "camera_id": "cam-1", "timed": True, "relay_ms": 0}

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


def live_frame(camera_id: str = "cam-1", seq: int = 1, age_s: float = 0.0, x: float = 0.2) -> str:
    at = datetime.now(UTC) - timedelta(seconds=age_s)
    objects = [{"box": [x, 0.3, x + 0.1, 0.5], "label": "person", "confidence": 0.9, "track_id": 3}]
    body = {"v": 1, "camera_id": camera_id, "ts": at.isoformat(), "seq": seq, "objects": objects}
    return json.dumps(body)


async def test_live_frames_reach_the_overlay_and_bad_ones_are_counted(
    served_console: LiveServer, mqtt_broker: Any
) -> None:
    services = served_console.app.state.ioc
    live = f"live/{services.config.mqtt.topic_prefix}/cameras"
    ws_base = served_console.url.replace("http://", "ws://")
    headers = await viewer_headers(served_console.url)
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)
    try:
        async with websockets.connect(f"{ws_base}/api/live/cam-1/detections", additional_headers=headers) as ws:
            assert [(await receive(ws))["type"] for _ in range(2)] == ["snapshot", "source"]
            await ws.send(json.dumps({"type": "ping", "id": 7}))
            pong = await receive(ws)
            assert pong["type"] == "pong" and pong["id"] == 7
            assert abs(pong["server_t"] - time.time() * 1000) < 2000
            await asyncio.sleep(0.5)  # the feed's own subscription is made when the server starts
            before = datetime.now(UTC)
            publisher.publish_all(
                [
                    (f"{live}/cam-1/detections", "{not json"),
                    (f"{live}/cam-1/detections", live_frame("cam-2")),  # names another camera
                    (f"{live}/no-such-cam/detections", live_frame("no-such-cam")),
                    (f"{live}/cam-1/detections", live_frame(seq=2, age_s=30)),  # too old to draw
                    (f"{live}/cam-1/detections", live_frame(seq=3, x=0.25)),
                ]
            )
            frame = await receive(ws)
        assert frame["type"] == "frame" and frame["seq"] == 3 and frame["camera_id"] == "cam-1"
        drawn = {"box": [0.25, 0.3, 0.35, 0.5], "label": "person", "confidence": 0.9, "track_id": 3}
        assert frame["objects"] == [drawn]
        assert before.timestamp() * 1000 - 1000 < frame["t"] <= frame["received_t"]
        feed = services.overlay_feed
        assert feed is not None
        assert feed.counts == {"received": 1, "invalid": 2, "dropped": 0, "unknown": 1, "stale": 1}

        # A viewer who joins now gets the recent frame at once, to match its first pictures.
        async with websockets.connect(f"{ws_base}/api/live/cam-1/detections", additional_headers=headers) as late:
            snapshot = await receive(late)
        assert [f["seq"] for f in snapshot["frames"]] == [3]
        async with httpx.AsyncClient(base_url=served_console.url, headers=headers) as client:
            metrics = (await client.get("/metrics")).text
        assert 'ioc_overlay_frames_total{outcome="invalid"} 2.0' in metrics
        assert 'ioc_overlay_frames_total{outcome="received"} 1.0' in metrics
    finally:
        publisher.close()


def test_live_frames_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidFrameError, match=r"camera 'cam-1': objects\.0\.confidence: .*less than or equal to 1"):
        parse_frame("cam-1", live_frame().replace('"confidence": 0.9', '"confidence": 1.5').encode())
    with pytest.raises(InvalidFrameError, match=f"more than {MAX_FRAME_BYTES}"):
        parse_frame("cam-1", b" " * (MAX_FRAME_BYTES + 1))
    with pytest.raises(InvalidFrameError, match="the payload names camera 'cam-9'"):
        parse_frame("cam-1", live_frame("cam-9").encode())


async def test_live_frames_over_core_nats_reach_every_replica(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    """With the jetstream transport the frames come on a core NATS subject (outside the stream), to
    every replica: two servers on one node both fan out the same frame."""
    streams = write_streams(tmp_path, topic_prefix)
    settings = [jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, streams) for _ in "ab"]
    apps = [create_app(s) for s in settings]
    async with running_app(settings[0], apps[0]), running_app(settings[1], apps[1]):
        feeds = [app.state.ioc.overlay_feed for app in apps]
        assert None not in feeds
        viewers = [app.state.ioc.overlay.subscribe("gate") for app in apps]
        for viewer in viewers:
            assert (await viewer.next() or {})["type"] == "snapshot"
        nc = await nats.connect(nats_node.url)
        try:
            subject = f"live.{topic_prefix}.cameras.gate.detections"
            deadline = time.monotonic() + 10
            while not all(feed.counts["received"] for feed in feeds):  # until both have subscribed
                assert time.monotonic() < deadline, [feed.counts for feed in feeds]
                await nc.publish(subject, live_frame("gate").encode())
                await asyncio.sleep(0.2)
        finally:
            await nc.close()
        for viewer in viewers:
            frame = await asyncio.wait_for(viewer.next(), 5)
            assert frame is not None and frame["type"] == "frame" and frame["camera_id"] == "gate"


async def test_only_phase_locked_file_cameras_are_matched_to_the_picture_by_time(tmp_path: Path) -> None:
    """A looping realtime file of known duration plays in phase with the wall clock on the edge and
    the server (its frames are drawn); a file played once, unpaced, unreadable or without a duration
    (raw .264) is read by each on its own, so its frames are not drawn; an RTSP camera's are."""
    from contract.config import Camera
    from server.api.routes.live import source_message

    mp4, raw = write_indexed_clip(tmp_path / "clip.mp4"), tmp_path / "clip.264"
    with av.open(str(mp4)) as source, av.open(str(raw), "w", format="h264") as out:  # the same video, no container
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(video=0):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    base = {"name": "Cam", "site": "s1", "worker": "edge-1"}

    async def timed(camera_id: str, source: dict[str, object]) -> object:
        camera = Camera.model_validate({**base, "id": camera_id, "source": source})
        message = await source_message(camera)
        assert message["camera_id"] == camera_id and message["type"] == "source" and message["relay_ms"] == 0
        return message["timed"]

    assert await timed("looping", {"type": "file", "path": str(mp4)}) is True
    assert await timed("once", {"type": "file", "path": str(mp4), "loop": False}) is False
    assert await timed("unpaced", {"type": "file", "path": str(mp4), "realtime": False}) is False
    assert await timed("raw", {"type": "file", "path": str(raw)}) is False
    assert await timed("missing", {"type": "file", "path": str(tmp_path / "gone.mp4")}) is False
    assert await timed("rtsp", {"type": "rtsp", "url": "rtsp://h/x"}) is True


async def test_the_overlay_of_a_looping_file_camera_says_it_is_timed(
    tmp_path: Path, topic_prefix: str, pg_database: str, mqtt_broker: Any
) -> None:
    clip = write_indexed_clip(tmp_path / "clip.mp4")
    streams = STREAMS.format(prefix=topic_prefix, camera_url="rtsp://unused/x")
    source = '{type: rtsp, url: "rtsp://unused/x"}'
    assert source in streams
    path = tmp_path / "streams.yaml"
    path.write_text(streams.replace(source, f'{{type: file, path: "{clip}"}}'), encoding="utf-8")
    with serve_console(make_settings(pg_database, mqtt_broker.url, path)) as served:
        headers = await viewer_headers(served.url)
        ws_base = served.url.replace("http://", "ws://")
        async with websockets.connect(f"{ws_base}/api/live/cam-1/detections", additional_headers=headers) as ws:
            assert (await receive(ws))["type"] == "snapshot"
            assert await receive(ws) == {"type": "source", "camera_id": "cam-1", "timed": True, "relay_ms": 0}
