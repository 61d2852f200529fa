"""A stalled camera: the RTSP server is frozen with SIGSTOP mid-stream (the TCP connection stays open,
no frame arrives), then thawed with SIGCONT. Real GStreamer server, real Mosquitto, the real model."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from tests.edge.conftest import Recorder, WorkerRunner, camera, status_of, streams_yaml, write_yaml
from tests.fixtures.rtsp import RtspServerFactory

pytestmark = pytest.mark.timeout(120)

STALL_S = 2.0
# FFmpeg's RTSP read timeout fires after the stall timeout plus its own polling (up to ~2x here);
# on a loaded 2-core machine the status message needs a little more on top
STALL_MARGIN_S = 5.0


def test_stalled_rtsp_server_goes_offline_within_the_stall_timeout_and_comes_back(
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
    source = {"type": "rtsp", "url": server.url("cam"), "stall_timeout": f"{STALL_S:g}s", "connect_timeout": "3s"}
    cam = {**camera("stalled", server.url("cam")), "source": source}
    config = write_yaml(tmp_path / "streams.yaml", streams_yaml(topic_prefix, [cam], model_path))
    worker = run_worker(config, mqtt_broker.url)
    assert recorder.wait_for(status_of("stalled", "online"), 15)
    counters = worker.cameras["stalled"].pipeline.counters
    time.sleep(1.0)
    assert counters.frames_in > 0, counters

    server.stall()
    stalled_at = time.monotonic()
    offline = recorder.wait_for(status_of("stalled", "offline"), STALL_S + STALL_MARGIN_S)
    went_offline_after = time.monotonic() - stalled_at
    assert offline, f"no offline status {went_offline_after:.1f} s after the stall"
    assert went_offline_after >= STALL_S * 0.9, "offline before the stall timeout: not a stall detection"
    assert "timed out" in offline[0]["reason"]
    frames_while_stalled = counters.frames_in
    time.sleep(3.0)  # several reconnect attempts against the frozen server
    assert counters.frames_in == frames_while_stalled

    server.resume()
    resumed_at = time.monotonic()
    assert recorder.wait_for_change("stalled", "online", 2, 15), recorder.messages
    assert time.monotonic() - resumed_at < 15
    time.sleep(1.0)
    assert counters.frames_in > frames_while_stalled

    states = [p["state"] for t, p in list(recorder.messages) if t.endswith("cameras/stalled/status")]
    transitions = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]  # a new reason may repeat one
    assert transitions == ["connecting", "online", "offline", "online"], states
    records = [r for r in caplog.records if r.name.startswith("edge") and "stalled" in r.getMessage()]
    warnings = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings  # the first failure only, not every reconnect attempt
    assert "timed out" in warnings[0]
    back = [r.getMessage() for r in records if r.levelno == logging.INFO and "back online" in r.getMessage()]
    assert len(back) == 1, back
