"""Sensor availability: offline after `offline_timeout` seconds without a committed reading,
online again with the next one. Only state changes are reported (to observers and the log)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.config import Sensor
from server.store.records import StoredReading

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AvailabilityChange:
    sensor_id: str
    online: bool
    at: datetime


class AvailabilityTracker:
    """Pure state machine; the caller supplies the clock and delivers the changes."""

    def __init__(self, sensors: Iterable[Sensor], started_at: datetime) -> None:
        self._timeouts = {s.id: timedelta(seconds=s.offline_timeout) for s in sensors if s.enabled}
        self._last_seen: dict[str, datetime] = {}
        self._online: dict[str, bool | None] = dict.fromkeys(self._timeouts)
        self._started_at = started_at

    def reconfigure(self, sensors: Iterable[Sensor]) -> None:
        """Sensors added by a reload start unknown; removed ones are forgotten; others keep their state."""
        self._timeouts = {s.id: timedelta(seconds=s.offline_timeout) for s in sensors if s.enabled}
        self._online = {sensor_id: self._online.get(sensor_id) for sensor_id in self._timeouts}
        self._last_seen = {k: v for k, v in self._last_seen.items() if k in self._timeouts}

    def seed(self, last_seen: dict[str, datetime]) -> None:
        """Arrival times known from the database at start (no change is reported for them)."""
        for sensor_id, at in last_seen.items():
            if sensor_id in self._timeouts:
                self._last_seen[sensor_id] = at

    def seen(self, readings: Iterable[StoredReading]) -> list[AvailabilityChange]:
        changes: list[AvailabilityChange] = []
        for reading in readings:
            sensor_id = reading.sensor_id
            if sensor_id not in self._timeouts:
                continue
            previous = self._last_seen.get(sensor_id)
            if previous is None or reading.received_at > previous:
                self._last_seen[sensor_id] = reading.received_at
            if self._online[sensor_id] is not True:
                self._online[sensor_id] = True
                changes.append(AvailabilityChange(sensor_id, True, reading.received_at))
        return changes

    def check(self, now: datetime) -> list[AvailabilityChange]:
        changes: list[AvailabilityChange] = []
        for sensor_id, timeout in self._timeouts.items():
            last = self._last_seen.get(sensor_id, self._started_at)
            if self._online[sensor_id] is not False and now - last > timeout:
                self._online[sensor_id] = False
                changes.append(AvailabilityChange(sensor_id, False, now))
        return changes

    def last_seen(self, sensor_id: str) -> datetime | None:
        return self._last_seen.get(sensor_id)

    @property
    def sensor_ids(self) -> list[str]:
        return list(self._timeouts)

    def is_online(self, sensor_id: str) -> bool | None:
        return self._online.get(sensor_id)

    @property
    def online_count(self) -> int:
        return sum(1 for state in self._online.values() if state)

    @property
    def check_interval(self) -> float:
        """Seconds between checks: a quarter of the shortest timeout, between 0.1 s and 10 s."""
        shortest = min((t.total_seconds() for t in self._timeouts.values()), default=10.0)
        return min(10.0, max(0.1, shortest / 4))
