"""The edge worker end to end: real RTSP (GStreamer) with real H.264, real Mosquitto, the real model."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import pytest

from tests.edge.conftest import Recorder, WorkerRunner, camera, status_of, streams_yaml, write_yaml
from tests.fixtures.rtsp import RtspServerFactory

pytestmark = pytest.mark.timeout(120)


def test_static_pattern_gives_no_detections_and_few_inferences(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    static_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: Recorder,
    run_worker: WorkerRunner,
) -> None:
    server = rtsp_server({"bars": static_clip}, fps=15)
    cam = camera("bars", server.url("bars"), detect={"fps": 5}, motion={"refresh_interval": "30s"})
    config = write_yaml(tmp_path / "streams.yaml", streams_yaml(topic_prefix, [cam], model_path))
    worker = run_worker(config, mqtt_broker.url)
    assert recorder.wait_for(status_of("bars", "online"), 15)
    time.sleep(8)
    counters = worker.cameras["bars"].pipeline.counters
    # nothing moves: keyframes only (one a second, GOP 15 at 15 fps), each one sampled for motion
    assert 5 <= counters.frames_in <= 14, counters
    assert counters.frames_sampled >= 5, counters
    assert counters.inferences <= 2, counters  # the first frame only (refresh every 30 s)
    assert recorder.select(lambda topic, _: topic.endswith("/events")) == []


def test_rtsp_server_killed_then_back_gives_offline_then_online(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    moving_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: Recorder,
    run_worker: WorkerRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="edge")
    server = rtsp_server({"cam": moving_clip})
    config = write_yaml(
        tmp_path / "streams.yaml", streams_yaml(topic_prefix, [camera("cam", server.url("cam"))], model_path)
    )
    run_worker(config, mqtt_broker.url)
    assert recorder.wait_for(status_of("cam", "online"), 15)
    server.kill()
    offline = recorder.wait_for(status_of("cam", "offline"), 10)
    assert offline and offline[0]["reason"]
    time.sleep(3)
    server.start()
    restarted = time.monotonic()
    assert recorder.wait_for_change("cam", "online", 2, 10)
    assert time.monotonic() - restarted < 10
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "cam" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # the first failure only, not every retry
    assert any("back online" in r.getMessage() for r in caplog.records)


def test_wrong_credentials_and_bad_url_give_clear_status_without_a_crash_loop(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    moving_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: Recorder,
    run_worker: WorkerRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = rtsp_server({"cam": moving_clip}, user="viewer", password="right-pass")
    closed = rtsp_server({"cam": moving_clip})
    closed.kill()  # a port where nothing listens
    cameras = [
        camera("auth", server.url("cam", "viewer:wrong-pass-123")),
        camera("nowhere", closed.url("cam", "viewer:other-pass-456")),
        camera("good", server.url("cam", "viewer:right-pass")),
    ]
    config = write_yaml(tmp_path / "streams.yaml", streams_yaml(topic_prefix, cameras, model_path))
    started = time.monotonic()
    worker = run_worker(config, mqtt_broker.url)
    assert recorder.wait_for(status_of("good", "online"), 15)
    auth = recorder.wait_for(status_of("auth", "error"), 10)
    assert auth and "401" in auth[0]["reason"] and "authentication" in auth[0]["reason"]
    refused = recorder.wait_for(status_of("nowhere", "offline"), 10)
    assert refused and "refused" in refused[0]["reason"]
    time.sleep(4)
    assert worker.cameras["auth"].supervisor._backoff.attempts == 1  # waits rejected_retry_s before retrying
    # Backoff, not a tight loop: delays start at 0.3 s (the test setting), double, and are at least half
    # their ceiling, so n attempts need at least 0.15 * (2**n - 1) seconds.
    elapsed = time.monotonic() - started
    most = math.floor(math.log2(elapsed / 0.15 + 1)) + 1
    assert 2 <= worker.cameras["nowhere"].supervisor._backoff.attempts <= most
    everything = " ".join(r.getMessage() for r in caplog.records) + str(recorder.messages)
    for secret in ("wrong-pass-123", "other-pass-456", "right-pass"):
        assert secret not in everything


def test_live_reload_adds_and_removes_cameras_and_refuses_a_broken_file(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    moving_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: Recorder,
    run_worker: WorkerRunner,
) -> None:
    server = rtsp_server({"a": moving_clip, "b": moving_clip})
    path = tmp_path / "streams.yaml"
    write_yaml(path, streams_yaml(topic_prefix, [camera("cam-a", server.url("a"))], model_path))
    worker = run_worker(path, mqtt_broker.url)
    assert recorder.wait_for(status_of("cam-a", "online"), 15)
    supervisor_a = worker.cameras["cam-a"].supervisor
    cams = [camera("cam-a", server.url("a")), camera("cam-b", server.url("b"))]
    write_yaml(path, streams_yaml(topic_prefix, cams, model_path))
    assert recorder.wait_for(status_of("cam-b", "online"), 15)
    assert worker.cameras["cam-a"].supervisor is supervisor_a  # untouched
    path.write_text(path.read_text().replace("fps: 5", "fps: -1") + "\ncameras: [oops\n", encoding="utf-8")
    edge_status = f"{topic_prefix}/edge/edge-test/status"
    refused = recorder.wait_for(lambda t, p: t == edge_status and bool(p.get("config_error")), 10)
    assert refused and "streams.yaml" in refused[-1]["config_error"]
    assert set(worker.cameras) == {"cam-a", "cam-b"}
    write_yaml(path, streams_yaml(topic_prefix, [camera("cam-b", server.url("b"))], model_path))
    assert recorder.wait_for(status_of("cam-a", "disabled"), 10)
    assert set(worker.cameras) == {"cam-b"}
