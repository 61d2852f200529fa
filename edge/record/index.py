"""The local index of recorded segments (SQLite): camera, start, end, keyframe, bytes, event flag.

One connection guarded by a lock: written by the cameras' segment writers, read by the clip cutter
and the retention pass. Times are UTC, stored as epoch seconds (float).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY,
    camera_id TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    keyframe_s REAL NOT NULL,
    bytes INTEGER NOT NULL,
    packets INTEGER NOT NULL,
    codec TEXT NOT NULL,
    event INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS segments_camera_start ON segments (camera_id, start_s);
"""
_COLUMNS = "id, camera_id, path, start_s, end_s, keyframe_s, bytes, packets, codec, event"


def epoch(ts: datetime) -> float:
    return ts.timestamp()


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class Segment:
    id: int
    camera_id: str
    path: str  # relative to the record directory
    start_s: float  # UTC epoch of the first packet (a keyframe)
    end_s: float  # UTC epoch of the end of the last packet
    keyframe_s: float  # the first keyframe (the segment's start: segments begin on one)
    bytes: int
    packets: int
    codec: str
    event: bool  # overlaps an event: kept for events_retention

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class NewSegment:
    camera_id: str
    path: str
    start_s: float
    end_s: float
    bytes: int
    packets: int
    codec: str


def _segment(row: tuple[object, ...]) -> Segment:
    id_, camera_id, path, start_s, end_s, keyframe_s, size, packets, codec, event = row
    return Segment(
        int(str(id_)),
        str(camera_id),
        str(path),
        float(str(start_s)),
        float(str(end_s)),
        float(str(keyframe_s)),
        int(str(size)),
        int(str(packets)),
        str(codec),
        bool(event),
    )


class SegmentIndex:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, segment: NewSegment, event: bool = False) -> int:
        sql = (
            "INSERT INTO segments (camera_id, path, start_s, end_s, keyframe_s, bytes, packets, codec, event) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        values = (
            segment.camera_id,
            segment.path,
            segment.start_s,
            segment.end_s,
            segment.start_s,
            segment.bytes,
            segment.packets,
            segment.codec,
            int(event),
        )
        with self._lock:
            cursor = self._db.execute(sql, values)
            return int(cursor.lastrowid or 0)

    def overlapping(self, camera_id: str, start_s: float, end_s: float) -> list[Segment]:
        """The camera's segments that overlap [start_s, end_s], oldest first."""
        sql = f"SELECT {_COLUMNS} FROM segments WHERE camera_id = ? AND end_s > ? AND start_s < ? ORDER BY start_s"
        with self._lock:
            return [_segment(row) for row in self._db.execute(sql, (camera_id, start_s, end_s))]

    def mark_event(self, camera_id: str, start_s: float, end_s: float) -> int:
        """Flag the camera's segments overlapping [start_s, end_s] as holding an event."""
        sql = "UPDATE segments SET event = 1 WHERE camera_id = ? AND end_s > ? AND start_s < ?"
        with self._lock:
            return self._db.execute(sql, (camera_id, start_s, end_s)).rowcount

    def oldest(self, limit: int) -> list[Segment]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM segments ORDER BY start_s LIMIT ?", (limit,))
            return [_segment(row) for row in rows]

    def expired(self, camera_id: str, plain_before_s: float, event_before_s: float) -> list[Segment]:
        """Segments past retention: without events ending before `plain_before_s`, with events before
        `event_before_s`."""
        sql = (
            f"SELECT {_COLUMNS} FROM segments WHERE camera_id = ? AND "
            "((event = 0 AND end_s < ?) OR (event = 1 AND end_s < ?)) ORDER BY start_s"
        )
        with self._lock:
            rows = self._db.execute(sql, (camera_id, plain_before_s, event_before_s))
            return [_segment(row) for row in rows]

    def cameras(self) -> list[str]:
        with self._lock:
            return [str(row[0]) for row in self._db.execute("SELECT DISTINCT camera_id FROM segments")]

    def delete(self, segment_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM segments WHERE id = ?", (segment_id,))

    def total_bytes(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM segments").fetchone()
            return int(row[0])

    def ranges(self, camera_id: str, start_s: float, end_s: float, join_gap_s: float) -> list[tuple[float, float]]:
        """Recorded time ranges of a camera within [start_s, end_s]: segments closer than
        `join_gap_s` are joined into one range."""
        merged: list[tuple[float, float]] = []
        for segment in self.overlapping(camera_id, start_s, end_s):
            if merged and segment.start_s - merged[-1][1] <= join_gap_s:
                merged[-1] = (merged[-1][0], max(merged[-1][1], segment.end_s))
            else:
                merged.append((segment.start_s, segment.end_s))
        return merged
