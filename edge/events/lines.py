"""Counting lines: a track's anchor moving across the segment, with its direction.

'in' is a crossing from the line's left side to its right side as seen in the image, looking from
`start` towards `end` (for a line drawn left to right, 'in' is moving down the picture).

Hysteresis: a track's side only counts once its anchor is `hysteresis` away from the line; a
crossing is a change of that confirmed side, through the segment. Inside the band around the line
nothing changes, so a box jittering on the line (a person standing there) is never counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from contract.config import CountingLine
from contract.geometry import Point, segments_intersect, side_of_line
from edge.events.model import EventDraft, TrackedObject

Direction = Literal["in", "out"]


def crossing_direction(previous: Point, current: Point, start: Point, end: Point) -> Direction | None:
    """The direction of the move previous -> current across the segment start-end, or None."""
    before = side_of_line(previous, start, end)
    after = side_of_line(current, start, end)
    if before == 0 or after == 0 or (before > 0) == (after > 0):
        return None
    if not segments_intersect(previous, current, start, end):
        return None
    # side_of_line is negative on the visual left of start->end (y grows downwards in images).
    return "in" if before < 0 else "out"


class LineCounter:
    """Counts crossings of one line by the classes it watches; emits `line_crossed` events."""

    def __init__(self, line: CountingLine, default_classes: Iterable[str]) -> None:
        self.line = line
        self._classes = frozenset(line.classes or default_classes)
        self._start: Point = (line.start[0], line.start[1])
        self._end: Point = (line.end[0], line.end[1])
        self._length = max(math.dist(self._start, self._end), 1e-9)
        self._band = line.hysteresis
        self._confirmed: dict[int, tuple[int, Point]] = {}  # track -> (side, its last anchor on that side)
        self.count_in = 0
        self.count_out = 0

    def side(self, point: Point) -> int:
        """-1 left of the line, +1 right of it, 0 inside the hysteresis band."""
        distance = side_of_line(point, self._start, self._end) / self._length
        if abs(distance) <= self._band and (self._band > 0 or distance == 0):
            return 0
        return 1 if distance > 0 else -1

    def update(self, objects: Iterable[TrackedObject], ts: datetime) -> list[EventDraft]:
        events: list[EventDraft] = []
        for obj in objects:
            if obj.label not in self._classes:
                continue
            side = self.side(obj.anchor)
            if side == 0:
                continue
            known = self._confirmed.get(obj.track_id)
            self._confirmed[obj.track_id] = (side, obj.anchor)
            if known is None or known[0] == side:
                continue
            if segments_intersect(known[1], obj.anchor, self._start, self._end):
                events.extend(self._count("in" if known[0] < 0 else "out", obj, ts))
        return events

    def forget(self, track_id: int) -> None:
        self._confirmed.pop(track_id, None)

    def _count(self, direction: Direction, obj: TrackedObject, ts: datetime) -> list[EventDraft]:
        if direction == "in":
            self.count_in += 1
        else:
            self.count_out += 1
        if self.line.direction not in ("both", direction):
            return []
        count = self.count_in if direction == "in" else self.count_out
        return [
            EventDraft(
                "line_crossed",
                ts,
                obj,
                line=self.line.id,
                direction=direction,
                count=count,
                count_in=self.count_in,
                count_out=self.count_out,
            )
        ]
