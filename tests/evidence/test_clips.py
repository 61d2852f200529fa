"""Event clips end to end: a real RTSP camera (GStreamer, vtest), a real edge worker recording it,
the real server under uvicorn (PostgreSQL, Mosquitto): clips wait on the edge while the server is
down, then arrive in order, cover pre-roll and post-roll, match their SHA-256, play with range
requests; a recording request goes over MQTT and comes back as a clip; the timeline shows it all."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from contract.timeutil import parse_timestamp, utc_now
from server.auth.roles import Role
from server.auth.tokens import new_api_key
from tests.edge.conftest import Recorder as MqttRecorder
from tests.edge.conftest import WorkerRunner, status_of
from tests.evidence.conftest import (
    evidence_app,
    key_for,
    register_key,
    serve_app,
    wait_until,
    write_evidence_streams,
)
from tests.fixtures.rtsp import RtspServerFactory
from tests.fixtures.services import free_port

pytestmark = pytest.mark.timeout(180)

PRE_ROLL = POST_ROLL = 2.0
GOP_S = 1.0  # vtest is served at 10 fps, a keyframe every 10 frames
SLACK_S = 0.15  # packet arrival jitter on a loaded 2-core machine


def _ts(value: str) -> datetime:
    return parse_timestamp(value)


def test_clips_wait_for_the_server_then_arrive_in_order_covering_pre_and_post_roll(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    vtest_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: MqttRecorder,
    run_worker: WorkerRunner,
    pg_database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    camera = rtsp_server({"pier": vtest_clip}, fps=10)
    streams = write_evidence_streams(tmp_path, topic_prefix, camera.url("pier"), model_path)
    port = free_port()
    edge_key = new_api_key()
    worker = run_worker(
        streams,
        mqtt_broker.url,
        record_dir=tmp_path / "rec",
        server_url=f"http://127.0.0.1:{port}",
        server_api_key=edge_key.key,
    )
    assert recorder.wait_for(status_of("pier", "online"), 15)
    # the server is down: clips are cut and wait on disk
    wait_until(lambda: worker.recorder.outbox.waiting >= 2, 60, "two clips waiting in the outbox")
    assert worker.recorder.stats.clips_uploaded == 0
    app = evidence_app(pg_database, mqtt_broker.url, streams, tmp_path / "clips")
    served = serve_app(app, port)
    try:
        served.call(register_key(app, edge_key, Role.OPERATOR))
        admin = served.call(key_for(app, Role.ADMIN))
        with httpx.Client(base_url=served.url, headers=admin, timeout=30) as client:
            _check_clips(client, worker)
            _check_range_request(client, worker)
    finally:
        served.stop()
    assert edge_key.key not in caplog.text  # the edge's API key travels in a header, never logged


def _clip_events(client: httpx.Client, clip: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The clip's events as the server stored them; None while some are missing (events published
    while the server was down were not kept by the broker for it)."""
    found = [client.get(f"/api/events/{event_id}") for event_id in clip["event_ids"]]
    if not found or any(r.status_code != 200 for r in found):
        return None
    return [r.json() for r in found]


def _check_clips(client: httpx.Client, worker: Any) -> None:
    wait_until(lambda: worker.recorder.stats.clips_uploaded >= 2, 60, "the waiting clips to be uploaded")
    wait_until(lambda: worker.recorder.outbox.waiting == 0, 30, "the outbox to drain")
    clips = client.get("/api/evidence/clips", params={"camera": "pier"}).json()
    assert len(clips) >= 2
    received = sorted(clips, key=lambda c: c["received_at"])
    assert [c["id"] for c in clips] == [c["id"] for c in received]  # sent in order
    recording_start = min(s.start_s for s in worker.recorder.index.overlapping("pier", 0, 1e12))

    def with_events() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        listed = client.get("/api/evidence/clips", params={"camera": "pier"}).json()
        return [(c, events) for c in listed if (events := _clip_events(client, c)) is not None]

    for clip, events in wait_until(with_events, 40, "a clip whose events the server stored"):
        starts = [_ts(e["time"]) - timedelta(seconds=e.get("dwell_s") or 0) for e in events]
        first, last = min(starts), max(_ts(e["time"]) for e in events)
        start, end = _ts(clip["start_time"]), _ts(clip["end_time"])
        assert end >= last + timedelta(seconds=POST_ROLL - SLACK_S), (clip, last)
        if (first - timedelta(seconds=PRE_ROLL + GOP_S)).timestamp() > recording_start:
            assert start <= first - timedelta(seconds=PRE_ROLL - SLACK_S), (clip, first)
            assert start >= first - timedelta(seconds=PRE_ROLL + GOP_S + SLACK_S), (clip, first)
        body = client.get(clip["url"]).content
        assert hashlib.sha256(body).hexdigest() == clip["sha256"] and len(body) == clip["bytes"]
        with av.open(io.BytesIO(body)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames >= (end - start).total_seconds() * 10 * 0.8, (clip, frames)
    clip = clips[0]
    part = client.get(clip["url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.headers["content-range"] == f"bytes 100-199/{clip['bytes']}"
    assert part.content == client.get(clip["url"]).content[100:200]
    assert client.get(clip["url"], headers={"Range": f"bytes={clip['bytes']}-"}).status_code == 416


def _check_range_request(client: httpx.Client, worker: Any) -> None:
    start = utc_now() - timedelta(seconds=6)
    end = start + timedelta(seconds=3)
    body = {"start": start.isoformat(), "end": end.isoformat()}
    answer = client.post("/api/evidence/cameras/pier/recording-requests", json=body)
    assert answer.status_code == 202, answer.text
    request_id = answer.json()["request_id"]
    assert "ioc_evidence_recording_requests_total 1.0" in client.get("/metrics").text

    def arrived() -> list[dict[str, Any]]:
        clips = client.get("/api/evidence/clips", params={"camera": "pier"}).json()
        return [c for c in clips if c["request_id"] == request_id]

    (clip,) = wait_until(arrived, 30, "the requested range as a clip")
    assert clip["kind"] == "range"
    assert _ts(clip["start_time"]) <= start + timedelta(seconds=SLACK_S)
    assert _ts(clip["start_time"]) >= start - timedelta(seconds=GOP_S + SLACK_S)
    assert _ts(clip["end_time"]) >= end - timedelta(seconds=SLACK_S)
    timeline = wait_until(
        lambda: (t := client.get("/api/evidence/cameras/pier/timeline").json())["recorded"] and t,
        10,
        "recorded ranges reported by the edge",
    )
    recorded = [(_ts(r["start"]), _ts(r["end"])) for r in timeline["recorded"]]
    assert any(a <= start and b >= end for a, b in recorded), recorded
    assert request_id in {c["request_id"] for c in timeline["clips"]}
    assert timeline["events"]
    audit = client.get("/api/evidence/audit", params={"action": "recording_request"}).json()
    assert audit and audit[0]["detail"]["request_id"] == request_id and audit[0]["actor"].startswith("key:")
    playback = client.get("/api/evidence/audit", params={"action": "clip_playback"}).json()
    assert playback  # the playbacks above (range requests after the first byte are not new playbacks)
