"""Zone rules: enter / exit with inertia, loitering and occupancy for one zone of one camera."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from contract.config import Zone
from contract.geometry import point_in_polygon
from edge.events.model import EventDraft, TrackedObject


@dataclass
class _Presence:
    inside: bool = False
    streak: int = 0
    entered_at: datetime | None = None
    loitered: bool = False
    last: TrackedObject | None = None


class ZoneTracker:
    """Counts a track as inside after `inertia_frames` frames in a row inside (and outside likewise)."""

    def __init__(self, zone: Zone, default_classes: Iterable[str]) -> None:
        self.zone = zone
        self._classes = frozenset(zone.classes or default_classes)
        self._points: list[tuple[float, float]] = [(p[0], p[1]) for p in zone.points]
        self._presence: dict[int, _Presence] = {}
        self._occupancy = 0

    @property
    def occupancy(self) -> int:
        return self._occupancy

    def update(self, objects: Iterable[TrackedObject], ts: datetime) -> list[EventDraft]:
        events: list[EventDraft] = []
        for obj in objects:
            if obj.label in self._classes:
                inside = point_in_polygon(obj.anchor, self._points)
                events.extend(self._observe(obj, inside, ts))
        events.extend(self._occupancy_event(ts))
        return events

    def forget(self, track_id: int, ts: datetime) -> list[EventDraft]:
        """The track is gone: it leaves the zone at once (no inertia)."""
        presence = self._presence.pop(track_id, None)
        if presence is None or not presence.inside or presence.last is None:
            return []
        return [self._exit(presence, presence.last, ts), *self._occupancy_event(ts)]

    def _observe(self, obj: TrackedObject, inside: bool, ts: datetime) -> list[EventDraft]:
        presence = self._presence.setdefault(obj.track_id, _Presence())
        presence.last = obj
        if inside == presence.inside:
            presence.streak = 0
            return self._loitering(presence, obj, ts) if inside else []
        presence.streak += 1
        if presence.streak < self.zone.inertia_frames:
            return []
        presence.streak = 0
        if inside:
            presence.inside, presence.entered_at, presence.loitered = True, ts, False
            return [EventDraft("zone_enter", ts, obj, zone=self.zone.id)]
        return [self._exit(presence, obj, ts)]

    def _exit(self, presence: _Presence, obj: TrackedObject, ts: datetime) -> EventDraft:
        dwell = (ts - presence.entered_at).total_seconds() if presence.entered_at else None
        presence.inside, presence.entered_at = False, None
        return EventDraft("zone_exit", ts, obj, zone=self.zone.id, dwell_s=max(dwell, 0.0) if dwell else None)

    def _loitering(self, presence: _Presence, obj: TrackedObject, ts: datetime) -> list[EventDraft]:
        limit = self.zone.loiter_time
        if limit is None or presence.loitered or presence.entered_at is None:
            return []
        dwell = (ts - presence.entered_at).total_seconds()
        if dwell < limit.total_seconds():
            return []
        presence.loitered = True
        return [EventDraft("loitering", ts, obj, zone=self.zone.id, dwell_s=dwell)]

    def _occupancy_event(self, ts: datetime) -> list[EventDraft]:
        count = sum(1 for presence in self._presence.values() if presence.inside)
        if count == self._occupancy:
            return []
        self._occupancy = count
        threshold = self.zone.occupancy_threshold
        over = threshold if threshold is not None and count > threshold else None
        return [EventDraft("zone_occupancy", ts, None, zone=self.zone.id, count=count, threshold=over)]
