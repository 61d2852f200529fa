"""The objects the event rules look at and the events they produce."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contract.geometry import Point
from contract.payloads import EventKind

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TrackedObject:
    """One tracked object in one frame; the box is x1, y1, x2, y2 as fractions of the frame."""

    track_id: int
    label: str
    confidence: float
    box: Box

    @property
    def anchor(self) -> Point:
        """The bottom centre of the box: where a person stands or a vehicle touches the road."""
        return ((self.box[0] + self.box[2]) / 2.0, self.box[3])


@dataclass(frozen=True)
class EventDraft:
    """An event before it gets an id, a snapshot and a payload."""

    kind: EventKind
    ts: datetime
    obj: TrackedObject | None = None
    zone: str | None = None
    line: str | None = None
    direction: Literal["in", "out"] | None = None
    count: int | None = None
    count_in: int | None = None
    count_out: int | None = None
    dwell_s: float | None = None
    threshold: int | None = None
