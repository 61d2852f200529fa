"""All event rules of one camera, fed with the tracked objects of each detected frame."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from contract.config import Camera
from edge.events.lifecycle import ObjectLifecycle
from edge.events.lines import LineCounter
from edge.events.model import EventDraft, TrackedObject
from edge.events.zones import ZoneTracker


class CameraEventEngine:
    def __init__(self, camera: Camera, gone_after: timedelta = timedelta(seconds=2)) -> None:
        classes = camera.detect.classes
        self.zones = [ZoneTracker(zone, classes) for zone in camera.zones]
        self.lines = [LineCounter(line, classes) for line in camera.lines]
        self.lifecycle = ObjectLifecycle(gone_after)

    def update(self, objects: Sequence[TrackedObject], ts: datetime) -> list[EventDraft]:
        events, gone = self.lifecycle.update(objects, ts)
        for line in self.lines:
            events.extend(line.update(objects, ts))
        for zone in self.zones:
            events.extend(zone.update(objects, ts))
        for track_id in gone:
            for zone in self.zones:
                events.extend(zone.forget(track_id, ts))
            for line in self.lines:
                line.forget(track_id)
        return events

    def line_counts(self) -> dict[str, tuple[int, int]]:
        return {counter.line.id: (counter.count_in, counter.count_out) for counter in self.lines}
