"""The ingest pipeline, owned by the app lifespan:

transport (MQTT or JetStream) -> inbox -> BatchCollector (decode) -> queue(2) -> BatchWriter (commit)
    -> ack / terminate -> observers (alert engine) -> availability tracker

Every task runs under a `Supervisor`: an exception restarts it with backoff, and the messages
the writer held go back to the transport (`retry_later`). `state` says what /health reports:
`running`, `restarting` (a task failed and has not committed since) or `stalled` (messages wait
and nothing was committed for `ingest_stall_after_s`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Literal

from contract.config import StreamsConfig
from contract.timeutil import utc_now
from server.ingest.availability import AvailabilityChange, AvailabilityTracker
from server.ingest.errors import Reason, Rejected
from server.ingest.observers import ObserverFanout
from server.ingest.router import MessageRouter
from server.ingest.supervisor import Supervisor
from server.ingest.transport import Delivery, IngestTransport
from server.ingest.transports import make_transport
from server.ingest.writer import BatchCollector, BatchWriter, Pending
from server.metrics import Metrics
from server.settings import Settings
from server.store.base import Store, StoreUnavailableError, WriteBatch, WriteResult

logger = logging.getLogger(__name__)

IngestState = Literal["running", "restarting", "stalled"]
MAX_DELIVER = "max_deliver"


class IngestService:
    def __init__(
        self,
        settings: Settings,
        config: StreamsConfig,
        store: Store,
        metrics: Metrics,
        observers: ObserverFanout,
        transport: IngestTransport | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._observers = observers
        self.router = MessageRouter(
            config,
            timedelta(seconds=settings.max_future_skew_s),
            settings.dead_letter_max_bytes,
            settings.snapshot_max_bytes,
        )
        self.availability = AvailabilityTracker(config.sensors, utc_now())
        self._writer = BatchWriter(store, self.router, metrics)
        self.transport: IngestTransport = transport or make_transport(
            settings, config, self.router.subscriptions(), metrics
        )
        self._supervisor = Supervisor(lambda task: metrics.ingest_restarts.labels(task).inc())
        self._queue: asyncio.Queue[Pending] = asyncio.Queue(maxsize=2)
        self._writing: Pending | None = None
        self._in_pipeline = 0
        self._last_progress = time.monotonic()
        self.stalled = False
        self._started = False
        self.committed_messages = 0

    @property
    def database_ok(self) -> bool:
        return self._writer.database_ok

    @property
    def mqtt_connected(self) -> bool:
        """Connected to the transport's server (the MQTT broker or NATS)."""
        return self.transport.connected

    @property
    def mqtt_subscribed(self) -> bool:
        """Connected and subscribed: messages published from now on reach this server."""
        return self.transport.ready

    @property
    def pending(self) -> int:
        """Messages received and not yet settled (waiting, being decoded or written)."""
        return (len(self.transport.inbox) if self._started else 0) + self._in_pipeline

    @property
    def state(self) -> IngestState:
        if self._supervisor.down:
            return "restarting"
        return "stalled" if self.stalled else "running"

    @property
    def state_detail(self) -> str | None:
        if self._supervisor.down:
            return f"ingest task {', '.join(self._supervisor.down)} failed and is restarting"
        if self.stalled:
            return f"nothing committed for {self._settings.ingest_stall_after_s:g} s while {self.pending} messages wait"
        return None

    async def reload(self, config: StreamsConfig) -> None:
        """Apply a reloaded streams.yaml: decoding, availability and subscriptions follow it."""
        self.router.reconfigure(config)
        self.availability.reconfigure(config.sensors)
        self.transport.reconfigure(config)
        await self.transport.set_topics(self.router.subscriptions())

    async def start(self) -> None:
        await self._seed_availability()
        await self.transport.start()
        self._started = True
        collector = BatchCollector(
            self.transport.inbox,
            self.router,
            self._settings.batch_max_rows,
            self._settings.batch_max_delay_ms / 1000,
            writer_idle=lambda: self._writing is None and self._queue.empty(),
        )
        supervisor = self._supervisor
        supervisor.spawn("ingest-collect", lambda: self._collect(collector))
        supervisor.spawn("ingest-write", self._write, on_failure=self._hand_back)
        supervisor.spawn("ingest-availability", self._watch_availability)
        supervisor.spawn("ingest-stall-watch", self._watch_stall)

    async def _seed_availability(self) -> None:
        """After a restart, silence is counted from each sensor's last stored reading, not from now."""
        try:
            latest = await self._store.latest_readings(self.availability.sensor_ids)
        except StoreUnavailableError:
            logger.warning("database unavailable at start: sensor silence is counted from now")
            return
        self.availability.seed({sensor_id: reading.received_at for sensor_id, reading in latest.items()})

    async def stop(self) -> None:
        await self._supervisor.stop()
        await self.transport.stop()

    async def _collect(self, collector: BatchCollector) -> None:
        while True:
            pending = await collector.next_batch()
            self._in_pipeline += len(pending.items)
            await self._queue.put(pending)

    async def _write(self) -> None:
        while True:
            self._writing = await self._queue.get()
            pending = self._writing
            result = await self._writer.write(pending)
            self._writing = None  # committed: from here on a failure must not hand it back
            self._in_pipeline -= len(pending.items)
            stored = pending.settled_as_stored()
            await self.transport.ack(stored)
            await self.transport.terminate(pending.refused)
            self._metrics.ingest_settled.labels("ack").inc(len(stored))
            self._metrics.ingest_settled.labels("terminate").inc(len(pending.refused))
            self._settled(pending)
            self._record(pending, result)
            await self._notify(pending, result)

    def _settled(self, pending: Pending) -> None:
        self.committed_messages += len(pending.items)
        self._last_progress = time.monotonic()
        self._supervisor.progress()

    async def _hand_back(self) -> None:
        """The writer failed holding a batch: the transport delivers it again (or it is dead)."""
        pending, self._writing = self._writing, None
        if pending is None:
            return
        self._in_pipeline -= len(pending.items)
        exhausted = await self.transport.retry_later(pending.items)
        self._metrics.ingest_settled.labels("retry").inc(len(pending.items) - len(exhausted))
        if exhausted:
            await self._dead_letter_exhausted(exhausted)

    async def _dead_letter_exhausted(self, deliveries: list[Delivery]) -> None:
        """Their last delivery failed too: dead letters (`max_deliver`), then terminated."""
        rejected = Rejected(Reason.TOO_LARGE, "")
        letters = [
            replace(
                self.router.dead_letter(item.topic, item.payload, item.received_at, rejected, None),
                reason=MAX_DELIVER,
                detail="the pipeline failed on every delivery of this message",
            )
            for item in deliveries
        ]
        await self._writer.write_batch(WriteBatch(dead_letters=letters))
        await self.transport.terminate(deliveries)
        self._metrics.ingest_settled.labels("terminate").inc(len(deliveries))
        self._metrics.dead_letters.labels(MAX_DELIVER).inc(len(letters))
        logger.error("%d messages failed on their last delivery: stored as dead letters", len(letters))

    async def _watch_stall(self) -> None:
        interval = min(1.0, self._settings.ingest_stall_after_s / 4)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            if not self.pending:
                self._last_progress = now
            stalled = now - self._last_progress > self._settings.ingest_stall_after_s
            if stalled and not self.stalled:
                self._metrics.ingest_stalls.inc()
                logger.error("ingest stalled: %s", self.state_detail or "no commit while messages wait")
            elif self.stalled and not stalled:
                logger.info("ingest committing again")
            self.stalled = stalled
            self._metrics.ingest_up.set(1 if self.state == "running" else 0)

    def _record(self, pending: Pending, result: WriteResult) -> None:
        metrics, batch = self._metrics, pending.batch
        now = time.monotonic()
        for item in pending.items:
            metrics.lag.observe(now - item.arrived)
        metrics.messages_in.labels("all").inc(len(pending.items))
        metrics.batch_rows.observe(len(batch.readings))
        metrics.rows_written.labels("readings").inc(len(result.readings))
        metrics.rows_written.labels("detection_events").inc(len(result.events))
        metrics.duplicates.labels("readings").inc(len(batch.readings) - len(result.readings))
        metrics.duplicates.labels("detection_events").inc(len(batch.events) - len(result.events))
        for reason, count in Counter(letter.reason for letter in batch.dead_letters).items():
            metrics.dead_letters.labels(reason).inc(count)
        metrics.pending.set(self.pending)

    async def commit(self, batch: WriteBatch) -> WriteResult:
        """Commit rows decoded outside MQTT (station files) through the same writer, metrics,
        observers and availability as MQTT messages; `StoreRejectedError` when refused."""
        result = await self._writer.write_batch(batch)
        pending = Pending(batch=batch)
        self._record(pending, result)
        await self._notify(pending, result)
        return result

    async def _notify(self, pending: Pending, result: WriteResult) -> None:
        await self._observers.readings(result.readings)
        await self._observers.events(result.events)
        for status in pending.batch.camera_statuses:
            await self._observers.camera_status(status)
        await self._deliver(self.availability.seen(result.readings))

    async def _deliver(self, changes: list[AvailabilityChange]) -> None:
        for change in changes:
            state = "online" if change.online else "offline"
            logger.info("sensor %s is %s", change.sensor_id, state)
            await self._observers.sensor_availability(change.sensor_id, change.online, change.at)
        self._metrics.sensors_online.set(self.availability.online_count)

    async def _watch_availability(self) -> None:
        while True:
            await asyncio.sleep(self.availability.check_interval)
            await self._deliver(self.availability.check(utc_now()))
