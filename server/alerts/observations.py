"""What the engine observes: sensor and camera samples in the engine's own terms, and detection
events as the stored records themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.store.records import StoredEvent


@dataclass(frozen=True, slots=True)
class SensorSample:
    sensor_id: str
    value: float
    at: datetime
    received_at: datetime | None = None


DetectionSample = StoredEvent
"""A detection event is observed as it is stored (`at` is its frame time): no copy of its fields."""


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
