"""What the engine observes, in the engine's own terms (converted from stored records at the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SensorSample:
    sensor_id: str
    value: float
    at: datetime
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DetectionSample:
    camera_id: str
    kind: str
    at: datetime
    received_at: datetime | None = None
    label: str | None = None
    confidence: float | None = None
    track_id: int | None = None
    zone: str | None = None
    line: str | None = None
    direction: str | None = None
    count: int | None = None
    dwell_s: float | None = None


@dataclass(frozen=True, slots=True)
class CameraSample:
    camera_id: str
    state: str
    at: datetime


Observation = SensorSample | DetectionSample | CameraSample


def arrival(observation: Observation) -> datetime:
    """When the server got it (device clocks drift; silence is judged on arrival)."""
    if isinstance(observation, CameraSample):
        return observation.at
    return observation.received_at or observation.at
