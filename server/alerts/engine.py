"""The async alert engine: an ingest observer that evaluates, persists, then delivers.

Order per step: evaluate (pure core) -> one transaction (alerts, history, rule phases) ->
dashboard hub and push channels. A crash before the commit re-evaluates redelivered data; a
crash after it restores the same state, so nothing fires twice. One lock serialises steps; a
ticker moves time for durations, no-data, repeats, escalation and silences.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from contract.config.root import StreamsConfig
from server.alerts.core import RuleEngine
from server.alerts.matching import SilenceRecord
from server.alerts.model import AlertChange
from server.alerts.observations import CameraSample, DetectionSample, Observation, SensorSample
from server.alerts.repository import AlertRepository
from server.notify.base import Dispatcher, Routes
from server.store.records import StoredCameraStatus, StoredEvent, StoredReading

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


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


class AlertEngine:
    def __init__(
        self,
        core: RuleEngine,
        repository: AlertRepository,
        dispatcher: Dispatcher,
        clock: Clock,
        tick_interval_s: float = 1.0,
    ) -> None:
        self.core = core
        self.repository = repository
        self.dispatcher = dispatcher
        self.clock = clock
        self.tick_interval_s = tick_interval_s
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self.failures = 0

    async def open(self) -> None:
        restored = await self.repository.restore()
        self.core.load(restored.alerts, restored.states, restored.silences)
        self.core.take_dirty()
        seed = getattr(self.dispatcher.hub, "seed", None)
        if seed is not None:
            seed([alert.payload() for alert in self.core.book.open_alerts()])
        await self.dispatcher.start()
        self._ticker = asyncio.create_task(self._tick_forever(), name="alert-ticker")
        logger.info("alert engine started: %s open alerts restored", len(restored.alerts))

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.dispatcher.close()

    # ----------------------------------------------------------------- IngestObserver

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        """Readings of sensors no rule watches are skipped before any sample is built (most of a
        gateway's traffic); a batch with none watched never takes the lock."""
        watched = self.core.index.watches_sensor
        samples = [sample_of_reading(reading) for reading in readings if watched(reading.sensor_id)]
        if samples:
            await self.observe(samples)

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        await self.observe([sample_of_event(event) for event in events])

    async def on_camera_status(self, status: StoredCameraStatus) -> None:
        await self.observe([CameraSample(status.camera_id, status.state, status.time)])

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        return None  # `no_data` rules judge silence themselves, with their own `after`

    # ----------------------------------------------------------------- steps

    async def observe(self, observations: Sequence[Observation]) -> None:
        async with self._lock:
            changes: list[AlertChange] = []
            now = self.clock()
            for observation in observations:
                changes.extend(self.core.observe(observation, now))
            await self._commit(changes)

    async def tick(self) -> None:
        async with self._lock:
            now = self.clock()
            self.core.prune_silences(now)
            await self._commit(self.core.tick(now))

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval_s)
            try:
                await self.tick()
            except Exception:
                self.failures += 1
                logger.exception("alert tick failed; next in %ss", self.tick_interval_s)

    async def _commit(self, changes: list[AlertChange]) -> None:
        dirty = self.core.take_dirty()
        if not changes and not dirty:
            return
        try:
            await self.repository.save(changes, dirty)
        except Exception:
            self.core.dirty.update(dirty)  # written with the next step
            raise
        for change in changes:
            await self.dispatcher.dispatch(change)

    # ----------------------------------------------------------------- operators and config

    async def acknowledge(self, alert_id: str, by: str, note: str | None) -> AlertChange:
        async with self._lock:
            change = self.core.acknowledge(alert_id, by, note, self.clock())
            await self._commit([change])
            return change

    async def assign(self, alert_id: str, assignee: str, by: str) -> AlertChange:
        async with self._lock:
            change = self.core.assign(alert_id, assignee, by, self.clock())
            await self._commit([change])
            return change

    async def resolve(self, alert_id: str, by: str, note: str | None) -> AlertChange:
        async with self._lock:
            change = self.core.resolve(alert_id, by, note, self.clock())
            await self._commit([change])
            return change

    async def add_silence(self, silence: SilenceRecord) -> None:
        async with self._lock:
            self.core.add_silence(silence)
            await self.repository.save_silence(silence)

    async def expire_silence(self, silence_id: str) -> SilenceRecord | None:
        async with self._lock:
            expired = self.core.expire_silence(silence_id, self.clock())
            if expired is not None:
                await self.repository.save_silence(expired)
            return expired

    async def reload(self, config: StreamsConfig, routes: Routes | None = None) -> None:
        """Hot reload: new channels (`routes`) first, then new rules for the next observation;
        removed rules' alerts resolve. One step: no change is dispatched half-way through."""
        async with self._lock:
            if routes is not None:
                await self.dispatcher.replace(routes)
            await self._commit(self.core.reload(config, self.clock()))
