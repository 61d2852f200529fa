"""Stored readings as the observations the rules evaluate (events are observed as stored)."""

from __future__ import annotations

from server.alerts.observations import SensorSample
from server.store.records import StoredReading


def sample_of_reading(reading: StoredReading) -> SensorSample:
    return SensorSample(reading.sensor_id, reading.value, reading.time, reading.received_at)
