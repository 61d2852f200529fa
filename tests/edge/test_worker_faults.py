"""Fault detection timings with the real GStreamer RTSP server: a frozen camera is offline within its
stall timeout (not twice it, decoding every frame or keyframes only; an idle camera whose GOP is
longer than its stall timeout is not stalled), a killed camera that returns is online again within 5 s even with a
30 s backoff cap, and a file source with `loop: false` plays once without flapping."""

from __future__ import annotations

import random
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from edge.source.retry import wait_to_retry
from tests.edge.conftest import Recorder, WorkerRunner, camera, status_of, streams_yaml, write_yaml
from tests.fixtures.rtsp import RtspServerFactory

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("keyframes_when_idle", [True, False], ids=["keyframes-when-idle", "every-frame"])
def test_a_frozen_camera_is_offline_within_its_stall_timeout(
    keyframes_when_idle: bool,
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    moving_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: Recorder,
    run_worker: WorkerRunner,
) -> None:
    stall_s = 3.0
    server = rtsp_server({"cam": moving_clip})
    source = {"type": "rtsp", "url": server.url("cam"), "stall_timeout": f"{stall_s:g}s"}
    cam = {**camera("frozen", ""), "source": source, "motion": {"keyframes_when_idle": keyframes_when_idle}}
    config = write_yaml(tmp_path / "s.yaml", streams_yaml(topic_prefix, [cam], model_path))
    run_worker(config, mqtt_broker.url)
    assert recorder.wait_for(status_of("frozen", "online"), 15)
    # each stats interval, the online status again with the measured rates (15 fps sent, none idle)
    rated = recorder.wait_for(lambda t, p: t.endswith("frozen/status") and (p.get("fps_decoded") or 0) > 0, 5)
    assert rated and rated[-1]["fps_detected"] is not None, rated
    server.stall()
    stalled_at = time.monotonic()
    offline = recorder.wait_for(status_of("frozen", "offline"), 2 * stall_s)
    after = time.monotonic() - stalled_at
    server.resume()
    assert offline, f"no offline status {after:.1f} s after the stall"
    print(f"offline {after:.2f} s after SIGSTOP (stall_timeout {stall_s:g} s)")
    assert stall_s * 0.9 <= after <= stall_s + 1.0  # the stall timeout, plus the watchdog tick and MQTT
    assert offline[0]["reason"] == f"timed out: no frame for {stall_s:g} s"


def test_an_idle_camera_decoding_keyframes_only_is_not_stalled_by_a_gop_longer_than_the_timeout(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: Recorder,
    run_worker: WorkerRunner,
) -> None:
    """A still scene, a keyframe every 3 s, stall_timeout 2 s: one decoded frame a GOP, packets
    every frame; the stall clock follows the packets, so the camera stays online."""
    clip = tmp_path / "still.264"
    command = ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=gray:size=320x180:rate=15"]
    command += ["-t", "6", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-bf", "0"]
    command += ["-g", "45", "-sc_threshold", "0", "-bsf:v", "h264_mp4toannexb", "-f", "h264", str(clip)]
    subprocess.run(command, check=True, timeout=60)
    server = rtsp_server({"cam": clip})
    source = {"type": "rtsp", "url": server.url("cam"), "stall_timeout": "2s"}
    cam = {**camera("still", ""), "source": source}
    worker = run_worker(write_yaml(tmp_path / "s.yaml", streams_yaml(topic_prefix, [cam], model_path)), mqtt_broker.url)
    assert recorder.wait_for(status_of("still", "online"), 15)
    counters = worker.cameras["still"].pipeline.counters
    time.sleep(4.0)  # the first motion-gate frames pass; then idle
    decoded, packets = counters.frames_in, counters.packets_in
    time.sleep(7.0)
    assert counters.packets_in - packets >= 80, "15 packets a second arrive"
    assert counters.frames_in - decoded <= 4, "keyframes only: one frame every 3 s"
    assert not recorder.select(status_of("still", "offline")), "no stall reported for a camera that sends"


def test_a_killed_camera_that_returns_is_found_within_5_s_despite_a_long_backoff(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    moving_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: Recorder,
    run_worker: WorkerRunner,
) -> None:
    server = rtsp_server({"cam": moving_clip})
    cam = camera("returns", server.url("cam"))
    config = write_yaml(tmp_path / "s.yaml", streams_yaml(topic_prefix, [cam], model_path))
    run_worker(config, mqtt_broker.url, reconnect_initial_s=4.0, reconnect_max_s=30.0)
    assert recorder.wait_for(status_of("returns", "online"), 15)
    server.kill()
    assert recorder.wait_for(status_of("returns", "offline"), 10)
    time.sleep(12.0)  # the open backoff has grown to 8-16 s by now; the cheap probe keeps going
    server.start()
    back_at = time.monotonic()
    online = recorder.wait_for_change("returns", "online", 2, 10)
    found_after = time.monotonic() - back_at
    print(f"online {found_after:.2f} s after the server returned")
    assert online and found_after < 5.0


def test_probes_of_many_down_cameras_are_spread_not_in_step() -> None:
    """50 cameras waiting on a down server probe it at jittered moments (no reconnect storm)."""
    stop, first_probes, lock = threading.Event(), [], threading.Lock()
    started = time.monotonic()

    def probe() -> bool:
        with lock:
            first_probes.append(time.monotonic() - started)
        return False

    threads = [
        threading.Thread(target=wait_to_retry, args=(1.6, probe, stop, random.Random(i)), daemon=True)
        for i in range(50)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    probes_per_camera = len(first_probes) / 50
    second_round = sorted(t for t in first_probes if t > 0.2)
    buckets = {int(t * 10) for t in second_round}
    assert 2 <= probes_per_camera <= 5  # about one probe a second, not a tight loop
    assert len(buckets) >= 4  # the second round spreads over [0.5, 1] s, not one instant


def test_a_file_with_loop_false_plays_once_and_stays_offline(
    tmp_path: Path,
    moving_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: Recorder,
    run_worker: WorkerRunner,
) -> None:
    source = {"type": "file", "path": str(moving_clip), "loop": False, "realtime": False}
    cam = {**camera("once", ""), "source": source, "motion": {"keyframes_when_idle": False}}
    config = write_yaml(tmp_path / "s.yaml", streams_yaml(topic_prefix, [cam], model_path))
    worker = run_worker(config, mqtt_broker.url)
    offline = recorder.wait_for(status_of("once", "offline"), 30)
    assert offline and offline[0]["reason"] == "the video file ended (loop: false)"
    frames = worker.cameras["once"].pipeline.counters.frames_in
    time.sleep(2.0)  # the old behaviour replayed the file 0.5 s after its end
    assert worker.cameras["once"].pipeline.counters.frames_in == frames == 90  # 6 s at 15 fps, once
    assert recorder.state_changes("once") == ["connecting", "online", "offline"]
