"""The async alert engine: an ingest observer that evaluates, persists, then delivers.

Order per step: evaluate (pure core) -> one transaction (alerts, history, rule phases, one outbox
row per push delivery, the evaluation cursor) -> dashboard hub and push channels. A failed save
keeps the step and saves it with the next one (`unsaved.py`): no transition is lost. The cursor
(ingest time of the last reading / event evaluated) is saved with the state, and at start the
engine evaluates what was stored after it (`catchup.py`), so data stored but never evaluated (a
crash between the ingest's commit and this step) is evaluated after all.

One lock serialises steps; a ticker moves time for durations, no-data, repeats, escalation and
silences, and retries unsaved steps. The public API is small: query (`alerts`, `alert`, `history`,
`silences`), act (`acknowledge`, `assign`, `resolve`, silences), subscribe (the dashboard feed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from contract.config.root import StreamsConfig
from server.alerts.catchup import StoredSince, catch_up
from server.alerts.core import RuleEngine
from server.alerts.matching import SilenceRecord
from server.alerts.model import Alert, AlertChange, HistoryEntry
from server.alerts.observations import CameraSample, Observation
from server.alerts.repository import AlertQuery, AlertRepository, EvaluationCursor
from server.alerts.samples import sample_of_reading
from server.alerts.unsaved import Step, UnsavedSteps
from server.notify.base import Dispatcher, Routes
from server.notify.hub import AlertHub, Subscription
from server.notify.outbox import Delivery
from server.store.records import NORMAL, StoredCameraStatus, StoredEvent, StoredReading

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CURSOR_SAVE_INTERVAL_S = 5.0


class AlertsUnavailableError(RuntimeError):
    """An operator's change could not be saved now; it is kept and saved when the database is back."""


class AlertEngine:
    def __init__(
        self,
        core: RuleEngine,
        repository: AlertRepository,
        dispatcher: Dispatcher,
        clock: Clock,
        tick_interval_s: float = 1.0,
        stored: StoredSince | None = None,
    ) -> None:
        self.core = core
        self.repository = repository
        self.dispatcher = dispatcher
        self.clock = clock
        self.tick_interval_s = tick_interval_s
        self.stored = stored
        self.unsaved = UnsavedSteps()
        self.cursor = EvaluationCursor()
        self._saved_cursor = EvaluationCursor()
        self._cursor_saved_at = 0.0
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self.tick_failures = 0

    @property
    def failures(self) -> int:
        """Failed saves and failed ticks (each logged, the first of a run with its recovery)."""
        return self.unsaved.failures + self.tick_failures

    @property
    def hub(self) -> AlertHub:
        hub = self.dispatcher.hub
        assert isinstance(hub, AlertHub), "the dispatcher's sink is not an AlertHub"
        return hub

    @property
    def config(self) -> StreamsConfig:
        return self.core.config

    async def open(self) -> None:
        restored = await self.repository.restore()
        self.core.load(restored.alerts, restored.states, restored.silences)
        self.core.take_dirty()
        self.hub.seed([alert.payload() for alert in self.core.book.open_alerts()])
        await self.dispatcher.start()
        await self.dispatcher.resume(self.clock())
        self.cursor = self._saved_cursor = restored.cursor or EvaluationCursor()
        if self.stored is not None:
            await catch_up(self, self.stored, restored.cursor)
        self._ticker = asyncio.create_task(self._tick_forever(), name="alert-ticker")
        logger.info("alert engine started: %s open alerts restored", len(restored.alerts))

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.tick_cursor()  # the last cursor (and what waits), if the database allows
        await self.dispatcher.close()

    # ----------------------------------------------------------------- IngestObserver

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        """Readings of sensors no rule watches are skipped before any sample is built (most of a
        gateway's traffic); a batch with none watched never takes the lock, only moves the cursor."""
        if not readings:
            return
        latest = max(reading.received_at for reading in readings)
        watched = self.core.index.watches_sensor
        # calibrating / instrument-error readings are stored and charted but never raise or clear an alert
        samples = [sample_of_reading(r) for r in readings if watched(r.sensor_id) and r.quality == NORMAL]
        if not samples:
            self.cursor = self.cursor.after_readings(latest)
            return
        async with self._lock:
            changes = self._evaluate(samples)
            self.cursor = self.cursor.after_readings(latest)
            await self._commit(changes)

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        if not events:
            return
        async with self._lock:
            changes = self._evaluate(list(events))
            self.cursor = self.cursor.after_events(max(event.received_at for event in events))
            await self._commit(changes)

    async def on_camera_status(self, status: StoredCameraStatus) -> None:
        await self.observe([CameraSample(status.camera_id, status.state, status.time)])

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        return None  # `no_data` rules judge silence themselves, with their own `after`

    # ----------------------------------------------------------------- steps

    def _evaluate(self, observations: Sequence[Observation]) -> list[AlertChange]:
        now = self.clock()
        changes: list[AlertChange] = []
        for observation in observations:
            changes.extend(self.core.observe(observation, now))
        return changes

    async def observe(self, observations: Sequence[Observation]) -> None:
        async with self._lock:
            await self._commit(self._evaluate(observations))

    async def tick(self) -> None:
        async with self._lock:
            now = self.clock()
            self.core.prune_silences(now)
            due = time.monotonic() - self._cursor_saved_at >= CURSOR_SAVE_INTERVAL_S
            await self._commit(self.core.tick(now), cursor_due=due)

    async def tick_cursor(self) -> None:
        """Save the evaluation cursor now (with anything waiting)."""
        async with self._lock:
            await self._commit([], cursor_due=True)

    async def _tick_forever(self) -> None:
        failing = 0
        while True:
            await asyncio.sleep(self.tick_interval_s)
            try:
                await self.tick()
            except Exception:
                self.tick_failures += 1
                failing += 1
                if failing == 1:
                    logger.exception("alert tick failed; retried every %ss", self.tick_interval_s)
                continue
            if failing:
                logger.info("alert ticks run again after %s failures", failing)
                failing = 0

    def _deliveries(self, change: AlertChange) -> list[Delivery]:
        channels = self.dispatcher.push_channels(change.notify)
        return [Delivery(str(uuid.uuid4()), channel, change.action, change.payload) for channel in channels]

    async def _commit(self, changes: list[AlertChange], *, cursor_due: bool = False) -> bool:
        """Save this step (after any that wait) in one transaction, then dispatch; False: kept for later."""
        self.unsaved.add([(change, self._deliveries(change)) for change in changes], self.core.take_dirty())
        commit = self.unsaved.commit(None)
        moved = self.cursor != self._saved_cursor
        if moved and (commit or cursor_due):
            commit.cursor = self.cursor
        if not commit:
            return True
        try:
            await self.repository.save(commit)
        except Exception as exc:
            self.unsaved.failed(exc)
            return False
        self.unsaved.saved(len(commit.changes))
        if commit.cursor is not None:
            self._saved_cursor, self._cursor_saved_at = commit.cursor, time.monotonic()
        await self._dispatch(self.unsaved.take())
        return True

    async def _dispatch(self, steps: list[Step]) -> None:
        for change, deliveries in steps:
            await self.dispatcher.dispatch(change.action, change.payload, deliveries)

    async def _act(self, change: AlertChange) -> AlertChange:
        if not await self._commit([change]):
            raise AlertsUnavailableError(
                f"the database is unavailable: alert {change.payload.id} ({change.action}) is kept and saved"
                " when it is back"
            )
        return change

    # ----------------------------------------------------------------- query

    async def alerts(self, query: AlertQuery) -> list[Alert]:
        return await self.repository.alerts(query)

    async def alert(self, alert_id: str) -> Alert | None:
        return await self.repository.alert(alert_id)

    async def history(self, alert_id: str) -> list[HistoryEntry]:
        return await self.repository.history(alert_id)

    def silences(self) -> list[SilenceRecord]:
        return list(self.core.silences.values())

    # ----------------------------------------------------------------- subscribe

    def subscribe(self) -> Subscription:
        """The dashboard feed: open alerts, then every change (ConnectionRefusedError when full)."""
        return self.hub.subscribe()

    def unsubscribe(self, subscription: Subscription) -> None:
        self.hub.unsubscribe(subscription)

    # ----------------------------------------------------------------- act

    async def acknowledge(self, alert_id: str, by: str, note: str | None) -> AlertChange:
        async with self._lock:
            return await self._act(self.core.acknowledge(alert_id, by, note, self.clock()))

    async def assign(self, alert_id: str, assignee: str, by: str) -> AlertChange:
        async with self._lock:
            return await self._act(self.core.assign(alert_id, assignee, by, self.clock()))

    async def resolve(self, alert_id: str, by: str, note: str | None) -> AlertChange:
        async with self._lock:
            return await self._act(self.core.resolve(alert_id, by, note, self.clock()))

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
