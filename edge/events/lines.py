"""Counting lines: a track's anchor moving across the segment, with its direction.

'in' is a crossing from the line's left side to its right side as seen in the image, looking from
`start` towards `end` (for a line drawn left to right, 'in' is moving down the picture).
"""

from __future__ import annotations

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
        self._last: dict[int, Point] = {}
        self.count_in = 0
        self.count_out = 0

    def update(self, objects: Iterable[TrackedObject], ts: datetime) -> list[EventDraft]:
        events: list[EventDraft] = []
        for obj in objects:
            if obj.label not in self._classes:
                continue
            previous = self._last.get(obj.track_id)
            self._last[obj.track_id] = obj.anchor
            if previous is None:
                continue
            direction = crossing_direction(previous, obj.anchor, self._start, self._end)
            if direction is not None:
                events.extend(self._count(direction, obj, ts))
        return events

    def forget(self, track_id: int) -> None:
        self._last.pop(track_id, None)

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
