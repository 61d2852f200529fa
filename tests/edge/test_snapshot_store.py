"""Snapshots on disk: names, content, atomic writes, the size cap, and errors that never escape."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from contract.payloads import DetectionEventPayload
from edge.events.model import TrackedObject
from edge.snapshot import render_snapshot
from edge.snapshot_store import SnapshotDirectory, SnapshotFile, SnapshotStore

TS = datetime(2024, 5, 17, 23, 59, 30, tzinfo=UTC)


def event(event_id: str, camera_id: str = "gate-1", with_snapshot: bool = True) -> DetectionEventPayload:
    image = np.zeros((360, 640, 3), dtype=np.uint8)
    image[100:300, 200:300] = (40, 160, 220)
    obj = TrackedObject(track_id=7, label="person", confidence=0.8, box=(0.3, 0.3, 0.5, 0.8))
    snapshot = render_snapshot(image, obj, 80).ref() if with_snapshot else None
    return DetectionEventPayload(id=event_id, camera_id=camera_id, kind="object_seen", ts=TS, snapshot=snapshot)


def item(event_id: str, size: int, camera_id: str = "cam") -> SnapshotFile:
    return SnapshotFile(camera_id, "2024-05-17", event_id, bytes(size))


def test_each_event_snapshot_is_written_as_camera_date_event_id_jpg(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots", cap_bytes=10_000_000)
    store.start()
    events = [event("e0000001"), event("e0000002", camera_id="gate-2"), event("e0000003", with_snapshot=False)]
    for each in events:
        store.offer(each)
    assert store.flush()
    store.stop()
    written = sorted(p.relative_to(tmp_path / "snapshots").as_posix() for p in (tmp_path / "snapshots").rglob("*"))
    assert written == [
        "gate-1",
        "gate-1/2024-05-17",
        "gate-1/2024-05-17/e0000001.jpg",
        "gate-2",
        "gate-2/2024-05-17",
        "gate-2/2024-05-17/e0000002.jpg",
    ]
    for each in events[:2]:
        assert each.snapshot is not None and each.snapshot.data_b64 is not None
        data = (tmp_path / "snapshots" / each.camera_id / "2024-05-17" / f"{each.id}.jpg").read_bytes()
        assert data == base64.b64decode(each.snapshot.data_b64)
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None and decoded.shape == (360, 640, 3)
    assert store.stats.written == 2 and store.stats.write_errors == 0 and store.stats.dropped == 0


def test_the_cap_deletes_the_oldest_files_and_empty_folders(tmp_path: Path) -> None:
    directory = SnapshotDirectory(tmp_path, cap_bytes=3500)
    directory.open()
    paths = []
    for index, camera_id in enumerate(["old", "cam", "cam"]):
        path = directory.write(item(f"event-{index:04d}", 1000, camera_id))
        assert path is not None
        os.utime(path, ns=(index * 10**9, index * 10**9))  # distinct ages, oldest first
        paths.append(path)
    assert directory.stats.deleted == 0 and directory.total_bytes == 3000
    newest = directory.write(item("event-0003", 1000))  # 4000 > 3500: down to 90 % of the cap
    assert newest is not None and newest.exists()
    assert not paths[0].exists() and paths[1].exists() and paths[2].exists()
    assert not (tmp_path / "old").exists(), "the emptied camera folder stays"
    assert directory.stats.deleted == 1 and directory.total_bytes == 3000


def test_a_directory_over_the_cap_is_pruned_when_opened_and_stale_temp_files_go(tmp_path: Path) -> None:
    folder = tmp_path / "cam" / "2024-05-16"
    folder.mkdir(parents=True)
    for index in range(5):
        path = folder / f"event-{index:04d}.jpg"
        path.write_bytes(bytes(1000))
        os.utime(path, ns=(index * 10**9, index * 10**9))
    (folder / ".event-0009.jpg.tmp").write_bytes(bytes(500))
    directory = SnapshotDirectory(tmp_path, cap_bytes=2500)
    directory.open()
    assert sorted(p.name for p in folder.iterdir()) == ["event-0003.jpg", "event-0004.jpg"]
    assert directory.stats.deleted == 3 and directory.total_bytes == 2000


def test_write_errors_are_counted_never_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"x")
    directory = SnapshotDirectory(blocker, cap_bytes=10_000)
    directory.open()
    assert directory.write(item("event-0001", 10)) is None
    assert directory.write(item("event-0002", 10)) is None
    assert directory.write(SnapshotFile("../escape", "2024-05-17", "event-0003", b"x")) is None
    assert directory.stats.write_errors == 4 and directory.stats.written == 0  # open + three writes
    assert not list(tmp_path.glob("*.jpg")) and not (tmp_path.parent / "escape").exists()


def test_a_full_queue_drops_and_counts_and_a_broken_directory_does_not_stop_the_writer(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    store = SnapshotStore(blocker, cap_bytes=10_000, queue_size=2)
    for index in range(4):  # not started yet: the queue fills
        store.offer(event(f"event-{index:04d}"))
    assert store.stats.dropped == 2
    store.start()
    assert store.flush()
    store.stop()
    assert store.stats.write_errors == 3 and store.stats.written == 0  # open + the two queued
