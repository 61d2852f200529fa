"""The ingest pipeline, owned by the app lifespan:

paho thread -> InboundBuffer -> BatchCollector (decode) -> queue(2) -> BatchWriter (commit)
    -> PUBACK -> observers (alert engine) -> availability tracker
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from datetime import timedelta

from contract.config import StreamsConfig
from contract.mqtturl import parse_mqtt_url
from contract.timeutil import utc_now
from server.ingest.availability import AvailabilityChange, AvailabilityTracker
from server.ingest.buffer import InboundBuffer
from server.ingest.mqtt import MqttSubscriber
from server.ingest.observers import ObserverFanout
from server.ingest.router import MessageRouter
from server.ingest.writer import BatchCollector, BatchWriter, Pending
from server.metrics import Metrics
from server.settings import Settings
from server.store.base import Store, StoreUnavailableError, WriteBatch, WriteResult

logger = logging.getLogger(__name__)


def shared_topic(group: str | None, topic: str) -> str:
    return f"$share/{group}/{topic}" if group else topic


class IngestService:
    def __init__(
        self, settings: Settings, config: StreamsConfig, store: Store, metrics: Metrics, observers: ObserverFanout
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
        self._group = self._shared_group(config)
        self._writer = BatchWriter(store, self.router, metrics)
        self._tasks: list[asyncio.Task[None]] = []
        self._buffer: InboundBuffer | None = None
        self._subscriber: MqttSubscriber | None = None
        self.committed_messages = 0
        self._writing = False

    @property
    def database_ok(self) -> bool:
        return self._writer.database_ok

    @property
    def mqtt_connected(self) -> bool:
        return self._subscriber is not None and self._subscriber.connected

    @property
    def mqtt_subscribed(self) -> bool:
        """Connected and subscribed: messages published from now on reach this server."""
        return self._subscriber is not None and self._subscriber.connected and self._subscriber.subscribed

    @property
    def pending(self) -> int:
        return len(self._buffer) if self._buffer is not None else 0

    def _shared_group(self, config: StreamsConfig) -> str | None:
        override = self._settings.mqtt_shared_group
        return config.mqtt.shared_group if override is None else (override or None)  # "" turns it off

    def _topic_filters(self) -> tuple[list[str], list[str]]:
        """(shared, plain): data topics go through the shared group; retained status topics do not."""
        topics = self.router.subscriptions()
        shared = [shared_topic(self._group, t) for t in topics if not t.endswith("/status")]
        plain = [t for t in topics if t.endswith("/status")]
        return shared, plain

    async def reload(self, config: StreamsConfig) -> None:
        """Apply a reloaded streams.yaml: decoding, availability and subscriptions follow it."""
        self.router.reconfigure(config)
        self.availability.reconfigure(config.sensors)
        self._group = self._shared_group(config)
        if self._subscriber is not None:
            self._subscriber.set_topics(*self._topic_filters())

    async def start(self) -> None:
        await self._seed_availability()
        loop = asyncio.get_running_loop()
        self._buffer = InboundBuffer(loop, capacity=2 * self._settings.mqtt_receive_maximum + 1000)
        shared, plain = self._topic_filters()
        self._subscriber = MqttSubscriber(
            parse_mqtt_url(self._settings.mqtt_url),
            self._settings.mqtt_client_id,
            shared,
            plain,
            self._buffer,
            self._settings.mqtt_receive_maximum,
            self._settings.mqtt_session_expiry_s,
        )
        queue: asyncio.Queue[Pending] = asyncio.Queue(maxsize=2)
        collector = BatchCollector(
            self._buffer,
            self.router,
            self._settings.batch_max_rows,
            self._settings.batch_max_delay_ms / 1000,
            writer_idle=lambda: not self._writing and queue.empty(),
        )
        self._tasks = [
            asyncio.create_task(self._collect(collector, queue), name="ingest-collect"),
            asyncio.create_task(self._write(queue), name="ingest-write"),
            asyncio.create_task(self._watch_availability(), name="ingest-availability"),
        ]
        self._subscriber.start()

    async def _seed_availability(self) -> None:
        """After a restart, silence is counted from each sensor's last stored reading, not from now."""
        try:
            latest = await self._store.latest_readings(self.availability.sensor_ids)
        except StoreUnavailableError:
            logger.warning("database unavailable at start: sensor silence is counted from now")
            return
        self.availability.seed({sensor_id: reading.received_at for sensor_id, reading in latest.items()})

    async def stop(self) -> None:
        if self._subscriber is not None:
            self._subscriber.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _collect(self, collector: BatchCollector, queue: asyncio.Queue[Pending]) -> None:
        while True:
            pending = await collector.next_batch()
            await queue.put(pending)

    async def _write(self, queue: asyncio.Queue[Pending]) -> None:
        while True:
            pending = await queue.get()
            self._writing = True
            try:
                result = await self._writer.write(pending)
                assert self._subscriber is not None
                self._subscriber.ack(pending.items)
                self.committed_messages += len(pending.items)
                self._record(pending, result)
                await self._notify(pending, result)
            finally:
                self._writing = False

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
