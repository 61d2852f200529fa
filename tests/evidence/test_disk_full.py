"""A full disk never stops the worker: recording fails (counted, in the stats), detection goes on,
and recording resumes by itself once there is room again. The disk is a real 4 MiB tmpfs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.edge.conftest import Recorder as MqttRecorder
from tests.edge.conftest import WorkerRunner, status_of
from tests.evidence.conftest import wait_until, write_evidence_streams
from tests.fixtures.rtsp import RtspServerFactory

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_counted_and_detection_goes_on(
    tmp_path: Path,
    small_disk: Path,
    rtsp_server: RtspServerFactory,
    vtest_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: MqttRecorder,
    run_worker: WorkerRunner,
) -> None:
    camera = rtsp_server({"pier": vtest_clip}, fps=10)
    streams = write_evidence_streams(tmp_path, topic_prefix, camera.url("pier"), model_path, mode="continuous")
    record_dir = small_disk / "rec"
    record_dir.mkdir()
    worker = run_worker(streams, mqtt_broker.url, record_dir=record_dir)
    assert recorder.wait_for(status_of("pier", "online"), 15)
    wait_until(lambda: worker.recorder.stats.segments >= 1, 20, "a first segment")
    filler = small_disk / "filler"
    with filler.open("wb") as out:  # fill the disk
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    inferences = worker.cameras["pier"].pipeline.counters.inferences
    wait_until(lambda: worker.recorder.stats.write_errors >= 1, 20, "a write error")
    wait_until(lambda: worker.cameras["pier"].pipeline.counters.inferences > inferences + 10, 20, "detection going on")
    stats = worker.stats()
    assert stats.recording is not None and stats.recording.write_errors >= 1 and stats.recording.last_error
    assert recorder.select(status_of("pier", "offline")) == []  # the camera never went offline
    assert len(list((record_dir / "pier").glob("*.part"))) <= 1  # abandoned segments are removed: only a new try
    segments = worker.recorder.stats.segments
    filler.unlink()
    wait_until(lambda: worker.recorder.stats.segments > segments, 20, "recording to resume")
