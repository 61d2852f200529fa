"""Idle cameras decode keyframes only: real H.264 (a clip that is still for 4 s, then a box moves),
real decoding through the camera supervisor, real motion detection. Frames decoded per second drop
to the keyframe rate while nothing moves and come back to every frame within one GOP of motion."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from contract.config import Camera
from edge.source.frames import DropOldestQueue, SampledFrame
from edge.source.supervisor import CameraStatus, CameraSupervisor, ReconnectPolicy
from edge.stats import CameraCounters
from tests.edge.conftest import camera

FPS, GOP, STILL_S, LENGTH_S = 15, 15, 4.3, 8.0  # the box enters mid-GOP: the next keyframe sees it


@pytest.fixture(scope="module")
def still_then_moving(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clips") / "still_then_moving.264"
    box = f"[0][1]overlay=x='if(lt(t,{STILL_S}),-200,(t-{STILL_S})*120)':y=140:eval=frame"
    command = ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color=gray:size=640x360:rate={FPS}"]
    command += ["-f", "lavfi", "-i", f"color=white:size=60x80:rate={FPS}", "-filter_complex", box]
    command += ["-t", str(LENGTH_S), "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-bf", "0"]
    command += ["-g", str(GOP), "-sc_threshold", "0", "-bsf:v", "h264_mp4toannexb", "-f", "h264", str(out)]
    subprocess.run(command, check=True, timeout=120)
    return out


def run_once(clip: Path, keyframes_when_idle: bool) -> list[float]:
    """Wall times (from the first frame) at which frames were decoded, the clip played in real time once."""
    source = {"type": "file", "path": str(clip), "loop": False, "realtime": True}
    settings = {**camera("idle", ""), "source": source, "motion": {"keyframes_when_idle": keyframes_when_idle}}
    counters, done = CameraCounters(), threading.Event()

    def on_status(camera_id: str, status: CameraStatus) -> None:
        if status.state == "offline":
            done.set()

    queue: DropOldestQueue[SampledFrame] = DropOldestQueue(4)
    supervisor = CameraSupervisor(
        Camera.model_validate(settings), queue, counters, on_status, ReconnectPolicy(), clip.parent
    )
    times: list[float] = []
    supervisor.start()
    seen, started = 0, 0.0
    while not done.is_set():
        count = counters.frames_in
        if count > seen:
            now = time.monotonic()
            started = started or now
            times += [now - started] * (count - seen)
            seen = count
        time.sleep(0.01)
    supervisor.stop()
    return times


def test_idle_camera_decodes_keyframes_only_and_every_frame_within_a_gop_of_motion(still_then_moving: Path) -> None:
    full = run_once(still_then_moving, keyframes_when_idle=False)
    times = run_once(still_then_moving, keyframes_when_idle=True)
    still = [t for t in times if 1.5 <= t < STILL_S]  # after the gate's first look, before the box enters
    moving = [t for t in times if t >= STILL_S + 1.5]
    print(f"decoded {len(full)} frames always, {len(times)} with keyframes when idle")
    print(f"still: {len(still) / (STILL_S - 1.5):.1f} fps, moving: {len(moving) / (LENGTH_S - STILL_S - 1.5):.1f} fps")
    assert len(full) >= FPS * LENGTH_S - 2  # every frame of the clip
    assert len(still) / (STILL_S - 1.5) <= 1.5 * FPS / GOP  # about one keyframe a second
    assert len(moving) / (LENGTH_S - STILL_S - 1.5) >= 0.8 * FPS  # every frame again
    # back to every frame within one GOP (plus scheduling slack) of the box entering at STILL_S
    dense = next(t for t, u in zip(times, times[3:], strict=False) if t > STILL_S - 0.2 and u - t < 0.4)
    print(f"every frame again {dense - STILL_S:.2f} s after motion started")
    assert dense <= STILL_S + GOP / FPS + 0.3
