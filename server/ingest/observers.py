"""How other components (the alert engine, live dashboards) observe accepted data.

The ingest never imports them: the app factory builds a list of objects that satisfy
`IngestObserver` and hands it to the ingest. Every method is awaited *after* the rows are
committed, so an observer only ever sees data that is stored. Observers must be quick (hand work
to their own task/queue) and must not raise: an exception is logged and counted, never propagated
to the ingest. Each call receives a batch in commit order; the same data may be observed again
after a crash and redelivery (at-least-once), so observers should be idempotent by
(sensor_id, time) or event id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from server.store.records import StoredCameraStatus, StoredEvent, StoredReading

logger = logging.getLogger(__name__)


@runtime_checkable
class IngestObserver(Protocol):
    """Receives accepted data after commit."""

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        """Readings just committed (new rows only; duplicates from redelivery are filtered out)."""

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        """Detection events just committed (new rows only)."""

    async def on_camera_status(self, status: StoredCameraStatus) -> None:
        """A camera status message was stored (every status, including repeats)."""

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        """A sensor went offline (silent past its `offline_timeout`) or came back online."""


class NullObserver:
    """An observer that ignores everything; a base class for observers that need only some calls."""

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        return None

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        return None

    async def on_camera_status(self, status: StoredCameraStatus) -> None:
        return None

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        return None


class ObserverFanout:
    """Calls every observer in order; an observer's exception is logged and counted, never raised."""

    def __init__(self, observers: Sequence[IngestObserver], on_failure: Callable[[], object] = lambda: None) -> None:
        self._observers = list(observers)
        self._on_failure = on_failure
        self.failures = 0
        """also reported through `on_failure` (the app counts it in `ioc_observer_failures`)"""

    def add(self, observer: IngestObserver) -> None:
        self._observers.append(observer)

    @property
    def observers(self) -> tuple[IngestObserver, ...]:
        return tuple(self._observers)

    async def readings(self, readings: Sequence[StoredReading]) -> None:
        if readings:
            for observer in self._observers:
                await self._call(observer, "on_readings", observer.on_readings(readings))

    async def events(self, events: Sequence[StoredEvent]) -> None:
        if events:
            for observer in self._observers:
                await self._call(observer, "on_events", observer.on_events(events))

    async def camera_status(self, status: StoredCameraStatus) -> None:
        for observer in self._observers:
            await self._call(observer, "on_camera_status", observer.on_camera_status(status))

    async def sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        for observer in self._observers:
            call = observer.on_sensor_availability(sensor_id, online, at)
            await self._call(observer, "on_sensor_availability", call)

    async def _call(self, observer: IngestObserver, name: str, call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:
            self.failures += 1
            self._on_failure()
            logger.exception("observer %s failed in %s", type(observer).__name__, name)
