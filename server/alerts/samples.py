"""Stored readings and events as the observations the rules evaluate."""

from __future__ import annotations

from server.alerts.observations import DetectionSample, SensorSample
from server.store.records import StoredEvent, StoredReading


def sample_of_reading(reading: StoredReading) -> SensorSample:
    return SensorSample(reading.sensor_id, reading.value, reading.time, reading.received_at)


def sample_of_event(event: StoredEvent) -> DetectionSample:
    return DetectionSample(
        camera_id=event.camera_id,
        kind=event.kind,
        at=event.time,
        received_at=event.received_at,
        label=event.label,
        confidence=event.confidence,
        track_id=event.track_id,
        zone=event.zone,
        line=event.line,
        direction=event.direction,
        count=event.count,
        dwell_s=event.dwell_s,
    )
