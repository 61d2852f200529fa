"""Topic to handler: one MQTT message becomes rows and dead letters in a `WriteBatch`."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from contract.config import Sensor, StreamsConfig
from contract.topics import Topics
from server.ingest.chirpstack import ChirpStackUplinks, FrameLog
from server.ingest.decode import DecodeSink, ReadingValidator, decode_batch, decode_sensor, parse_json
from server.ingest.edge import decode_camera_status, decode_edge_status, decode_event, decode_snapshot, stored_event
from server.ingest.errors import Reason, Rejected
from server.ingest.jsonlimits import PayloadLimits, check_payload
from server.store.base import WriteBatch
from server.store.records import StoredDeadLetter

logger = logging.getLogger(__name__)

GATEWAYS = "gateways"


class MessageRouter:
    """Knows every subscribed topic; `route` never raises for bad input (it dead-letters)."""

    def __init__(
        self,
        config: StreamsConfig,
        max_future_skew: timedelta,
        dead_letter_max_bytes: int,
        snapshot_max_bytes: int,
        limits: PayloadLimits | None = None,
    ) -> None:
        self._validator = ReadingValidator(max_future_skew)
        self._frames = FrameLog()
        self.reconfigure(config)
        self._dead_letter_max = dead_letter_max_bytes
        self._snapshot_max = snapshot_max_bytes
        self._limits = limits or PayloadLimits(event_max_bytes=max(snapshot_max_bytes * 4 // 3 + 65_536, 262_144))
        self._failures_logged: set[str] = set()

    def reconfigure(self, config: StreamsConfig) -> None:
        """Take a reloaded streams.yaml: sensors, topics and cameras change for the next message."""
        self.topics = Topics(config.mqtt.topic_prefix)
        self._sensors = {sensor.id: sensor for sensor in config.sensors}
        self._by_topic = {self.topics.sensor_topic(s): s for s in config.sensors}
        self._cameras = {camera.id for camera in config.cameras}
        self._validator.set_sites(config.sites)
        self._uplinks = ChirpStackUplinks(config.sensors, self._frames)

    def subscriptions(self) -> list[str]:
        """Topic filters to subscribe to (before the shared-subscription prefix)."""
        native = self.topics.all_sensors
        custom = sorted({topic for topic in self._by_topic if not _matches_native(self.topics, topic)})
        prefix = self.topics.prefix
        return [
            native,
            self.topics.all_gateways,
            *custom,
            self.topics.all_camera_events,
            self.topics.all_camera_status,
            f"{prefix}/edge/+/status",
            *self._uplinks.subscriptions(),
        ]

    def route(self, topic: str, payload: bytes, received_at: datetime, batch: WriteBatch) -> None:
        """Rows or dead letters into `batch`; no payload can make it raise."""
        try:
            limits = self._limits
            max_bytes = limits.event_max_bytes if topic.endswith("/events") else limits.max_bytes
            check_payload(payload, max_bytes, limits.max_depth)
            self._route(topic, payload, received_at, batch)
        except Rejected as rejected:
            batch.dead_letters.append(self.dead_letter(topic, payload, received_at, rejected, None))
        except Exception as exc:  # a decoding bug must not end the ingest: the message is kept
            self._log_failure(topic, exc)
            failed = Rejected(Reason.DECODE_FAILED, f"{type(exc).__name__}: {str(exc)[:300]}")
            batch.dead_letters.append(self.dead_letter(topic, payload, received_at, failed, None))

    def _log_failure(self, topic: str, exc: Exception) -> None:
        """Once per kind of exception (a bug to fix); each message is counted as a dead letter."""
        kind = type(exc).__name__
        if kind not in self._failures_logged:
            self._failures_logged.add(kind)
            logger.error(
                "decoding a message on %s raised %s; kept as a dead letter 'decode_failed' "
                "(logged once per exception type, counted in ioc_ingest_dead_letters_total)",
                topic[:200],
                kind,
                exc_info=exc,
            )

    def dead_letter(
        self, topic: str, payload: bytes, received_at: datetime, rejected: Rejected, sensor_id: str | None
    ) -> StoredDeadLetter:
        return StoredDeadLetter(
            topic=topic,
            reason=rejected.reason.value,
            detail=rejected.detail[:500],
            payload=payload[: self._dead_letter_max],
            received_at=received_at,
            sensor_id=sensor_id,
            payload_size=len(payload),
        )

    def _route(self, topic: str, payload: bytes, received_at: datetime, batch: WriteBatch) -> None:
        if self._uplinks.handles(topic):
            self._uplink(topic, payload, received_at, batch)
            return
        sensor = self._by_topic.get(topic)
        if sensor is not None:
            self._sensor_message(sensor, topic, payload, received_at, batch)
            return
        parts = topic.split("/")
        base = len(self.topics.prefix.split("/"))
        if topic.startswith(self.topics.prefix + "/") and len(parts) == base + 2:
            kind = parts[base]
            if kind == "sensors":
                self._unknown_sensor_topic(parts[base + 1], topic, payload, received_at, batch)
                return
            if kind == GATEWAYS:
                self._gateway(topic, payload, received_at, batch)
                return
        camera_id = self.topics.parse_camera_id(topic)
        if camera_id is not None and parts[-1] in ("events", "status"):
            self._camera_message(camera_id, parts[-1], payload, received_at, batch)
            return
        worker_id = self.topics.parse_worker_id(topic)
        if worker_id is not None and parts[-1] == "status":
            batch.edge_statuses.append(decode_edge_status(payload, worker_id, received_at))
            return
        raise Rejected(Reason.UNKNOWN_TOPIC, f"no sensor, camera or worker publishes on '{topic[:200]}'")

    def _sensor_message(
        self, sensor: Sensor, topic: str, payload: bytes, received_at: datetime, batch: WriteBatch
    ) -> None:
        if not sensor.enabled:
            raise Rejected(Reason.DISABLED_SENSOR, f"sensor '{sensor.id}' is disabled in streams.yaml")
        sink = DecodeSink(batch.readings)
        if sensor.payload.format == "native" and payload.lstrip().startswith(b"{") and b'"readings"' in payload:
            document = parse_json(payload)
            if isinstance(document, dict) and "readings" in document:
                decode_batch(document, self._sensors.get, self._validator, received_at, sink)
                self._collect(sink, topic, payload, received_at, batch)
                return
        decode_sensor(sensor, payload, self._validator, received_at, sink)
        self._collect(sink, topic, payload, received_at, batch)

    def _unknown_sensor_topic(
        self, sensor_id: str, topic: str, payload: bytes, received_at: datetime, batch: WriteBatch
    ) -> None:
        document = parse_json(payload) if payload.lstrip().startswith(b"{") else None
        if isinstance(document, dict) and "readings" in document:
            sink = DecodeSink(batch.readings)
            decode_batch(document, self._sensors.get, self._validator, received_at, sink)
            self._collect(sink, topic, payload, received_at, batch)
            return
        raise Rejected(Reason.UNKNOWN_SENSOR, f"sensor '{sensor_id[:64]}' is not in streams.yaml")

    def _gateway(self, topic: str, payload: bytes, received_at: datetime, batch: WriteBatch) -> None:
        document = parse_json(payload)
        if not isinstance(document, dict):
            raise Rejected(Reason.WRONG_TYPE, "a gateway message is an object {'readings': [...]}")
        sink = DecodeSink(batch.readings)
        decode_batch(document, self._sensors.get, self._validator, received_at, sink)
        self._collect(sink, topic, payload, received_at, batch)

    def _uplink(self, topic: str, payload: bytes, received_at: datetime, batch: WriteBatch) -> None:
        sink = DecodeSink(batch.readings)
        self._uplinks.decode(payload, self._validator, received_at, sink)
        self._collect(sink, topic, payload, received_at, batch)

    def _collect(self, sink: DecodeSink, topic: str, payload: bytes, received_at: datetime, batch: WriteBatch) -> None:
        """Dead letters for the readings `sink` rejected (accepted ones are already in the batch)."""
        for sensor_id, rejected in sink.rejected:
            batch.dead_letters.append(self.dead_letter(topic, payload, received_at, rejected, sensor_id))

    def _camera_message(
        self, camera_id: str, leaf: str, payload: bytes, received_at: datetime, batch: WriteBatch
    ) -> None:
        if camera_id not in self._cameras:
            raise Rejected(Reason.UNKNOWN_CAMERA, f"camera '{camera_id[:64]}' is not in streams.yaml")
        if leaf == "status":
            batch.camera_statuses.append(decode_camera_status(payload, camera_id, received_at))
            return
        event = decode_event(payload, camera_id, received_at)
        snapshot = None
        if event.snapshot is not None:
            try:
                snapshot = decode_snapshot(event, self._snapshot_max)
                batch.snapshots.append(snapshot)
            except Rejected as rejected:
                logger.warning("event %s of camera %s: snapshot dropped: %s", event.id, camera_id, rejected)
                batch.dead_letters.append(
                    self.dead_letter(self.topics.camera_events(camera_id), payload, received_at, rejected, None)
                )
        batch.events.append(stored_event(event, received_at, snapshot))


def _matches_native(topics: Topics, topic: str) -> bool:
    return topics.parse_sensor_id(topic) is not None
