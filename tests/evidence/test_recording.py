"""Recording at the edge: a real RTSP server (GStreamer) and a real edge worker record vtest."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from contract.config.record import RecordSettings
from edge.record.index import SegmentIndex
from edge.record.retention import Retention
from edge.record.stats import RecordStats
from tests.edge.conftest import Recorder as MqttRecorder
from tests.edge.conftest import WorkerRunner, camera, status_of, streams_yaml, write_yaml
from tests.evidence.conftest import decoded_frames, keyframe_first
from tests.fixtures.rtsp import RtspServerFactory

pytestmark = pytest.mark.timeout(120)

GOP_S = 1.0  # vtest is served at 10 fps with a keyframe every 10 frames


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def test_segments_decode_join_within_a_gop_and_a_killed_camera_leaves_a_gap_not_corruption(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    vtest_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: MqttRecorder,
    run_worker: WorkerRunner,
) -> None:
    server = rtsp_server({"hall": vtest_clip}, fps=10)
    cam = camera("hall", server.url("hall"), record={"mode": "continuous", "segment": "2s"})
    config = write_yaml(tmp_path / "streams.yaml", streams_yaml(topic_prefix, [cam], model_path))
    record_dir = tmp_path / "rec"
    worker = run_worker(config, mqtt_broker.url, record_dir=record_dir)
    assert recorder.wait_for(status_of("hall", "online"), 15)
    index: SegmentIndex = worker.recorder.index
    assert _wait(lambda: len(index.overlapping("hall", 0, 1e12)) >= 4, 20)
    server.kill()
    killed = time.time()
    time.sleep(4)
    server.start()
    assert _wait(lambda: any(s.start_s > killed + 3 for s in index.overlapping("hall", 0, 1e12)), 20)
    assert _wait(lambda: sum(s.start_s > killed for s in index.overlapping("hall", 0, 1e12)) >= 2, 10)
    segments = index.overlapping("hall", 0, 1e12)
    for segment in segments:
        path = record_dir / segment.path
        assert path.suffix == ".mp4" and path.stat().st_size == segment.bytes
        assert keyframe_first(path)
        frames = decoded_frames(path)  # every segment decodes, including the one cut by the kill
        assert frames == segment.packets, (segment, frames)
        assert 0 < segment.duration_s <= 2.0 + GOP_S + 0.5, segment
    before = [s for s in segments if s.end_s <= killed + 0.5]
    after = [s for s in segments if s.start_s > killed]
    assert all(s.duration_s >= 0.9 for s in before[:-1] + after[:-1])  # the kill may cut one short
    for older, newer in [*itertools.pairwise(before), *itertools.pairwise(after)]:
        assert abs(newer.start_s - older.end_s) <= GOP_S, (older, newer)
    assert after[0].start_s - before[-1].end_s >= 3.0  # the outage is a gap in the index
    ranges = index.ranges("hall", 0, 1e12, join_gap_s=GOP_S)
    assert len(ranges) == 2, ranges
    assert len(list((record_dir / "hall").glob("*.part"))) <= 1  # the segment being written
    stats = worker.stats().recording
    assert stats is not None and stats.write_errors == 0 and stats.queue_dropped == 0
    assert stats.segments >= len(segments) and stats.disk_bytes >= sum(s.bytes for s in segments)
    run_worker.stop(worker)
    assert not list((record_dir / "hall").glob("*.part"))  # stopping closes the last segment


def test_retention_and_the_disk_cap_delete_the_oldest_first(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    vtest_clip: Path,
    model_path: Path,
    mqtt_broker: Any,
    topic_prefix: str,
    recorder: MqttRecorder,
    run_worker: WorkerRunner,
) -> None:
    server = rtsp_server({"hall": vtest_clip}, fps=10)
    cam = camera("hall", server.url("hall"), record={"mode": "continuous", "segment": "1s"})
    config = write_yaml(tmp_path / "streams.yaml", streams_yaml(topic_prefix, [cam], model_path))
    record_dir = tmp_path / "rec"
    worker = run_worker(config, mqtt_broker.url, record_dir=record_dir)
    index: SegmentIndex = worker.recorder.index
    assert _wait(lambda: len(index.overlapping("hall", 0, 1e12)) >= 6, 30)
    run_worker.stop(worker)
    index = SegmentIndex(record_dir / "index.sqlite3")
    segments = index.overlapping("hall", 0, 1e12)
    stats = RecordStats()
    # the cap: keep about half the bytes; the oldest go first
    half = sum(s.bytes for s in segments) // 2
    Retention(record_dir, index, half, stats).enforce_cap()
    left = index.overlapping("hall", 0, 1e12)
    assert 0 < len(left) < len(segments) and sum(s.bytes for s in left) <= half
    assert [s.id for s in left] == [s.id for s in segments[-len(left) :]]
    assert all(not (record_dir / s.path).exists() for s in segments[: -len(left)])
    assert stats.deleted_cap == len(segments) - len(left)
    # retention: with 2 s of continuous retention, only the segments that ended in the last 2 s stay,
    # and those that hold an event (kept for events_retention)
    newest_end = left[-1].end_s
    settings = RecordSettings(mode="continuous", continuous_retention=2, events_retention=3600)
    index.mark_event("hall", left[0].start_s, left[0].end_s)
    flagged = {s.id for s in index.overlapping("hall", 0, 1e12) if s.event}
    Retention(record_dir, index, 1 << 40, stats).apply({"hall": settings}, newest_end + 2.0 - 0.001)
    kept = index.overlapping("hall", 0, 1e12)
    assert [s.id for s in kept] == [s.id for s in left if s.id in flagged or s.end_s >= newest_end - 0.001]
    assert kept[0].id == left[0].id and kept[0].event
    assert stats.deleted_retention == len(left) - len(kept)
    assert all((record_dir / s.path).exists() for s in kept)
    index.close()
