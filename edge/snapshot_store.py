"""Snapshots on disk: each event's snapshot JPEG as `<dir>/<camera_id>/<YYYY-MM-DD>/<event_id>.jpg`.

Written by one thread from a bounded queue (a slow disk never holds up detection; a full queue drops
and counts), each file atomically (temp file + rename), under a size cap: when the directory grows
over it, the oldest files are deleted down to 90 % of the cap (so the directory is not rescanned
for every file). A full disk or any write error is counted and logged once (and its recovery once);
it never stops the pipeline. The date is the event's UTC date.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from contract.payloads import DetectionEventPayload

logger = logging.getLogger(__name__)

QUEUE_SIZE = 256
LOW_WATER = 0.9  # after pruning, the directory holds at most this fraction of the cap
_SUFFIX = ".jpg"
_TEMP_SUFFIX = ".tmp"


@dataclass
class SnapshotStoreStats:
    """Monotonic counters; written by the writer thread, except `dropped` (by the caller)."""

    written: int = 0
    bytes_written: int = 0
    deleted: int = 0
    write_errors: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class SnapshotFile:
    camera_id: str
    date: str
    event_id: str
    jpeg: bytes


def snapshot_file(event: DetectionEventPayload) -> SnapshotFile | None:
    """What to write for this event; None when it has no snapshot."""
    if event.snapshot is None or not event.snapshot.data_b64:
        return None
    jpeg = base64.b64decode(event.snapshot.data_b64)
    return SnapshotFile(event.camera_id, event.ts.date().isoformat(), event.id, jpeg)


def _safe_name(name: str) -> str:
    """Ids come from the validated config and from hex digests; refuse anything path-like anyway."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"unsafe path component: {name!r}")
    return name


class SnapshotDirectory:
    """The directory itself: atomic writes, size accounting and pruning. Not thread-safe."""

    def __init__(self, root: Path, cap_bytes: int) -> None:
        self.root = root
        self.cap_bytes = cap_bytes
        self.stats = SnapshotStoreStats()
        self.total_bytes = 0
        self._failing = False

    def open(self) -> None:
        """Create the directory, remove stale temp files, count what is there, prune if over."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.total_bytes = sum(size for _, _, size in self._files(remove_temp=True))
        except OSError as exc:
            self._error("cannot open the snapshot directory", exc)
            return
        if self.total_bytes > self.cap_bytes:
            self.prune()

    def path_for(self, item: SnapshotFile) -> Path:
        parts = (_safe_name(item.camera_id), _safe_name(item.date), _safe_name(item.event_id) + _SUFFIX)
        return self.root.joinpath(*parts)

    def write(self, item: SnapshotFile) -> Path | None:
        """Write one file atomically; on any error count it, log the first, and go on."""
        try:
            path = self.path_for(item)
        except ValueError as exc:
            self._error("snapshot not written", exc)
            return None
        temp = path.with_name(f".{path.name}{_TEMP_SUFFIX}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(item.jpeg)
            os.replace(temp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            self._error(f"camera {item.camera_id}: snapshot not written", exc)
            return None
        if self._failing:
            self._failing = False
            logger.info("snapshot directory %s: writing again", self.root)
        self.stats.written += 1
        self.stats.bytes_written += len(item.jpeg)
        self.total_bytes += len(item.jpeg)
        if self.total_bytes > self.cap_bytes:
            self.prune()
        return path

    def prune(self) -> None:
        """Delete the oldest files (by modification time, then name) down to LOW_WATER of the cap."""
        try:
            files = sorted(self._files(remove_temp=False))
        except OSError as exc:
            self._error("cannot list the snapshot directory", exc)
            return
        total = sum(size for _, _, size in files)
        target = int(self.cap_bytes * LOW_WATER)
        emptied: set[Path] = set()
        for _, path, size in files:
            if total <= target:
                break
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                self._error("cannot delete an old snapshot", exc)
                continue
            total -= size
            self.stats.deleted += 1
            emptied.add(path.parent)
        self.total_bytes = total
        self._remove_empty(emptied)

    def _files(self, remove_temp: bool) -> list[tuple[int, Path, int]]:
        """(mtime_ns, path, size) of every snapshot file; stale temp files are removed if asked."""
        found: list[tuple[int, Path, int]] = []
        for directory, _, names in os.walk(self.root):
            for name in names:
                path = Path(directory, name)
                if name.endswith(_TEMP_SUFFIX):
                    if remove_temp:
                        with contextlib.suppress(OSError):
                            path.unlink(missing_ok=True)
                    continue
                if not name.endswith(_SUFFIX):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                found.append((stat.st_mtime_ns, path, stat.st_size))
        return found

    def _remove_empty(self, directories: set[Path]) -> None:
        """Date folders emptied by pruning, then their camera folder if that is empty too."""
        for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
            for folder in (directory, directory.parent):
                if folder == self.root:
                    break
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty (or already gone)

    def _error(self, what: str, exc: Exception) -> None:
        self.stats.write_errors += 1
        if not self._failing:
            self._failing = True
            logger.error("snapshot directory %s: %s: %s (further errors are only counted)", self.root, what, exc)


class SnapshotStore:
    """Writes event snapshots to a SnapshotDirectory on its own thread. `offer()` never blocks."""

    def __init__(self, root: Path, cap_bytes: int, queue_size: int = QUEUE_SIZE) -> None:
        self.directory = SnapshotDirectory(root, cap_bytes)
        self._queue: queue.Queue[SnapshotFile | None] = queue.Queue(queue_size)
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)

    @property
    def stats(self) -> SnapshotStoreStats:
        return self.directory.stats

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop."""
        if not self._thread.is_alive():
            return
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("snapshot directory %s: writer did not stop within %.0f s", self.directory.root, timeout)

    def offer(self, event: DetectionEventPayload) -> None:
        """Queue the event's snapshot (if any); a full queue drops it and counts the drop."""
        item = snapshot_file(event)
        if item is None:
            return
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.stats.dropped += 1
            if self.stats.dropped == 1:
                logger.warning("camera %s: snapshot writer behind; dropping snapshots (counted)", item.camera_id)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued snapshot is written (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        self.directory.open()
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self.directory.write(item)
            except Exception:
                self.stats.write_errors += 1
                logger.exception("snapshot directory %s: unexpected error", self.directory.root)
            finally:
                self._queue.task_done()
