"""Object first seen / gone, from the track ids the tracker reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.events.model import Box, EventDraft, TrackedObject


@dataclass
class _Seen:
    last_seen: datetime
    obj: TrackedObject


class ObjectLifecycle:
    """`object_seen` for a new track id, `object_gone` when an id is missing for `gone_after`."""

    def __init__(self, gone_after: timedelta, max_tracks: int = 512) -> None:
        self._gone_after = gone_after
        self._max_tracks = max_tracks
        self._seen: dict[int, _Seen] = {}

    @property
    def active(self) -> int:
        return len(self._seen)

    def boxes(self) -> list[Box]:
        """The last box of each object not yet gone (x1, y1, x2, y2 fractions of the frame)."""
        return [seen.obj.box for seen in self._seen.values()]

    def update(self, objects: Iterable[TrackedObject], ts: datetime) -> tuple[list[EventDraft], list[int]]:
        """Events for this frame, and the ids that are gone (their zone and line state can go)."""
        events: list[EventDraft] = []
        for obj in objects:
            if obj.track_id not in self._seen:
                events.append(EventDraft("object_seen", ts, obj))
            self._seen[obj.track_id] = _Seen(ts, obj)
        gone = [tid for tid, seen in self._seen.items() if ts - seen.last_seen >= self._gone_after]
        gone += self._overflow(exclude=set(gone))
        for track_id in gone:
            seen = self._seen.pop(track_id)
            events.append(EventDraft("object_gone", ts, seen.obj))
        return events, gone

    def _overflow(self, exclude: set[int]) -> list[int]:
        extra = len(self._seen) - len(exclude) - self._max_tracks
        if extra <= 0:
            return []
        oldest = sorted((s.last_seen, tid) for tid, s in self._seen.items() if tid not in exclude)
        return [tid for _, tid in oldest[:extra]]
