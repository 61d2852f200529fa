"""The edge worker: runs the cameras streams.yaml assigns to it, reloads the file live, publishes
statuses, events and stats. Each camera can be added, changed or removed without touching others."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from contract import __version__
from contract.config import Camera, ConfigError, StreamsConfig, load_config
from contract.jetstream import event_msg_id
from contract.mqtturl import MqttEndpoint, parse_mqtt_url
from contract.payloads import (
    CameraStats,
    CameraStatusPayload,
    DetectionEventPayload,
    EdgeStatsPayload,
    EdgeStatusPayload,
    SnapshotDirStats,
)
from contract.timeutil import utc_now
from contract.topics import Topics
from edge.detect.loop import DetectionLoop
from edge.detect.protocol import Detector
from edge.detect.registry import create_detector
from edge.pipeline import CameraPipeline
from edge.publish.link import Link
from edge.publish.live import LiveCamera, LiveChannel
from edge.publish.mqtt import MqttLink, MqttLinkOptions
from edge.publish.sender import EventPublisher, SenderOptions
from edge.publish.spool import EventSpool
from edge.record.commands import RecordCommands
from edge.record.recorder import recorder_for
from edge.settings import EdgeSettings
from edge.snapshot_store import SnapshotStore
from edge.source.packets import PacketTap, PacketTapUser
from edge.source.supervisor import CameraStatus, CameraSupervisor, ReconnectPolicy
from edge.stats import RateWindow, camera_stats

logger = logging.getLogger(__name__)


class WorkerError(Exception):
    """The worker cannot start (unknown worker id, unusable broker URL)."""


@dataclass
class RunningCamera:
    camera: Camera
    pipeline: CameraPipeline
    supervisor: CameraSupervisor
    packets: PacketTap
    live: LiveCamera | None = None
    window: RateWindow = field(default_factory=RateWindow)


class ConfigWatcher:
    """Notices edits of streams.yaml by modification time and size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def changed(self) -> bool:
        stamp = self._stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        return True


class EdgeWorker:
    def __init__(self, settings: EdgeSettings, config: StreamsConfig) -> None:
        worker = next((w for w in config.edge_workers if w.id == settings.worker_id), None)
        if worker is None:
            known = ", ".join(w.id for w in config.edge_workers) or "none"
            raise WorkerError(f"worker '{settings.worker_id}' is not in streams.yaml edge_workers (known: {known})")
        self.settings = settings
        self.config = config
        self.worker_id = settings.worker_id
        self.topics = Topics(config.mqtt.topic_prefix)
        self.spool = EventSpool(settings.spool_path(worker), worker.spool_max_events)
        self._stats_interval = settings.stats_interval_s or worker.stats_interval.total_seconds()
        sender = SenderOptions(
            stall_after_s=settings.sender_stall_s,
            reconnect_initial_s=min(0.2, settings.reconnect_max_s),
            reconnect_max_s=min(5.0, settings.reconnect_max_s),
            rejected_retry_s=settings.rejected_retry_s,
        )
        self.publisher = EventPublisher(self._make_link(sender.window), self.spool, sender)
        self._sender_stalled = False
        self.live = LiveChannel(self.publisher, self.topics)
        snapshot_dir = settings.snapshot_path(worker)
        self.snapshots: SnapshotStore | None = None
        if snapshot_dir is not None:
            self.snapshots = SnapshotStore(snapshot_dir, settings.snapshot_cap_bytes(worker))
        self.cameras: dict[str, RunningCamera] = {}
        self.config_error: str | None = None
        self._detectors: dict[str, Detector] = {}
        self._detectors_lock = threading.Lock()
        self._loop = DetectionLoop(self.detector)
        self._run_id = uuid.uuid4().hex[:12]
        self._watcher = ConfigWatcher(settings.config)
        self._listeners: list[Callable[[DetectionEventPayload], None]] = []
        self._tap_users: list[PacketTapUser] = []
        self.recorder = recorder_for(settings, worker)
        self.record_commands: RecordCommands | None = None
        if self.recorder is not None:
            self.add_packet_tap_user(self.recorder)
            self.add_event_listener(self.recorder.on_event)
            self.record_commands = RecordCommands(
                self.recorder, self._command_endpoint(), self.topics, self._stats_interval, settings.mqtt_protocol
            )
        self._policy = ReconnectPolicy(
            settings.reconnect_initial_s, settings.reconnect_max_s, settings.rejected_retry_s
        )

    def _command_endpoint(self) -> MqttEndpoint:
        """The broker that carries recording requests (MQTT on either transport: NATS has an MQTT listener)."""
        try:
            return parse_mqtt_url(self.settings.mqtt_url.get_secret_value())
        except ValueError as exc:
            raise WorkerError(str(exc)) from None

    def _make_link(self, window: int) -> Link:
        settings = self.settings
        if settings.transport == "jetstream":
            from edge.publish.jetstream import JetStreamLink, JetStreamLinkOptions

            nats_url = settings.nats_url.get_secret_value()
            return JetStreamLink(JetStreamLinkOptions(nats_url, self.config.mqtt.topic_prefix))
        try:
            endpoint = parse_mqtt_url(settings.mqtt_url.get_secret_value())
        except ValueError as exc:
            raise WorkerError(str(exc)) from None
        offline = EdgeStatusPayload(worker_id=self.worker_id, state="offline").to_json()
        will = self.topics.edge_status(self.worker_id)
        client_id = f"ioc-edge-{self.worker_id}"
        return MqttLink(endpoint, MqttLinkOptions(client_id, will, offline, settings.mqtt_protocol), window)

    @classmethod
    def from_settings(cls, settings: EdgeSettings) -> EdgeWorker:
        return cls(settings, load_config(settings.config))

    @property
    def base_dir(self) -> Path:
        return self.settings.config.resolve().parent

    def detector(self, name: str) -> Detector:
        with self._detectors_lock:
            found = self._detectors.get(name)
            if found is None:
                found = create_detector(self.config.detectors[name], self.base_dir)
                self._detectors[name] = found
            return found

    def start(self) -> None:
        self.publisher.start()
        self.live.start()
        if self.snapshots is not None:
            self.snapshots.start()
        self._loop.start()
        if self.recorder is not None and self.record_commands is not None:
            self.recorder.start()
            self.record_commands.start()
        for camera in self.config.cameras_for_worker(self.worker_id):
            self._start_camera(camera)
        self._publish_worker_status()
        logger.info("edge worker %s: started with %d camera(s)", self.worker_id, len(self.cameras))

    def run(self, stop: threading.Event) -> None:
        next_stats = time.monotonic() + self._stats_interval
        while not stop.wait(self.settings.reload_interval_s):
            if self._watcher.changed():
                self.reload()
            self._watch_sender()
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + self._stats_interval
                self.publish_stats()

    def _watch_sender(self) -> None:
        """Restart a dead sender thread; report a stalled one (status and log, on each change)."""
        self.publisher.ensure_running()
        stalled = self.publisher.stalled()
        if stalled != self._sender_stalled:
            self._sender_stalled = stalled
            if stalled:
                logger.warning(
                    "edge worker %s: sender stalled: %d event(s) wait, no acknowledgement for %.0f s (%s)",
                    self.worker_id,
                    self.spool.depth,
                    self.publisher.health().seconds_since_progress,
                    self.publisher.last_error or "no error",
                )
            else:
                logger.info("edge worker %s: sender delivering again", self.worker_id)
            self._publish_worker_status()

    def stop(self) -> None:
        for camera_id in list(self.cameras):
            self._stop_camera(camera_id, "worker stopped")
        self._loop.stop()
        if self.recorder is not None and self.record_commands is not None:
            self.record_commands.stop()
            self.recorder.stop()
        if self.snapshots is not None:
            self.snapshots.stop()
        self.live.stop()
        offline = EdgeStatusPayload(worker_id=self.worker_id, state="offline", ts=utc_now()).to_json()
        self.publisher.stop([(self.topics.edge_status(self.worker_id), offline)])
        self.spool.close()
        logger.info("edge worker %s: stopped", self.worker_id)

    def reload(self) -> bool:
        """Apply an edited streams.yaml; keep the running config when the file is invalid."""
        try:
            config = load_config(self.settings.config)
        except ConfigError as exc:
            self.config_error = exc.render()
            logger.error(
                "edge worker %s: streams.yaml edit refused, keeping the running config:\n%s",
                self.worker_id,
                self.config_error,
            )
            self._publish_worker_status()
            return False
        changed_detectors = {n for n in config.detectors if config.detectors[n] != self.config.detectors.get(n)}
        self.config, self.config_error = config, None
        with self._detectors_lock:
            for name in changed_detectors:
                self._detectors.pop(name, None)
        self._apply(config.cameras_for_worker(self.worker_id), changed_detectors)
        self._publish_worker_status()
        return True

    def _apply(self, wanted: list[Camera], changed_detectors: set[str]) -> None:
        by_id = {camera.id: camera for camera in wanted}
        for camera_id in [cid for cid in self.cameras if cid not in by_id]:
            self._stop_camera(camera_id, "removed from streams.yaml")
            logger.info("camera %s: removed", camera_id)
        for camera in wanted:
            running = self.cameras.get(camera.id)
            if running is None:
                logger.info("camera %s: added", camera.id)
                self._start_camera(camera)
            elif running.camera != camera or camera.detect.detector in changed_detectors:
                logger.info("camera %s: settings changed, restarting it", camera.id)
                self._stop_camera(camera.id, None)
                self._start_camera(camera)

    def _start_camera(self, camera: Camera) -> None:
        try:
            names = self.detector(camera.detect.detector).names
        except Exception as exc:
            logger.error("camera %s: detector '%s' unusable: %s", camera.id, camera.detect.detector, exc)
            self._publish_camera_status(camera.id, CameraStatus("error", reason=f"detector unusable: {exc}"))
            return
        live = self.live.camera(camera.id) if self._live_wanted(camera) else None
        on_tracked = live.offer if live is not None else None
        pipeline = CameraPipeline(camera, self.worker_id, names, self._emit, self._run_id, on_tracked=on_tracked)
        packets = PacketTap()
        for user in self._tap_users:
            user.camera_started(camera, packets)
        supervisor = CameraSupervisor(
            camera,
            pipeline.queue,
            pipeline.counters,
            self._publish_camera_status,
            self._policy,
            self.base_dir,
            pipeline.is_tracking,
            packets,
        )
        self.cameras[camera.id] = RunningCamera(camera, pipeline, supervisor, packets, live)
        self._loop.add(pipeline)
        supervisor.start()

    def _live_wanted(self, camera: Camera) -> bool:
        worker = next((w for w in self.config.edge_workers if w.id == self.worker_id), None)
        return camera.live_detections and (worker is None or worker.live_detections)

    def _stop_camera(self, camera_id: str, reason: str | None) -> None:
        running = self.cameras.pop(camera_id, None)
        if running is None:
            return
        running.supervisor.stop()
        self._loop.remove(camera_id)
        for user in self._tap_users:
            user.camera_stopped(camera_id)
        if reason is not None:
            removed = reason.startswith("removed")
            self._publish_camera_status(camera_id, CameraStatus("disabled" if removed else "offline", reason=reason))

    def add_packet_tap_user(self, user: PacketTapUser) -> None:
        """Let `user` register packet sinks on each camera started from now on (call before start)."""
        self._tap_users.append(user)

    def add_event_listener(self, listener: Callable[[DetectionEventPayload], None]) -> None:
        """Also hand every event to `listener` (on the detection thread), e.g. a local recorder."""
        self._listeners.append(listener)

    def _emit(self, event: DetectionEventPayload) -> None:
        if self.snapshots is not None:
            self.snapshots.offer(event)
        for listener in self._listeners:
            listener(event)
        topic = self.topics.camera_events(event.camera_id)
        self.publisher.enqueue_event(topic, event.to_json(), event_msg_id(event.id))

    def _publish_camera_status(self, camera_id: str, status: CameraStatus, rates: CameraStats | None = None) -> None:
        payload = CameraStatusPayload(
            camera_id=camera_id,
            worker_id=self.worker_id,
            state=status.state,
            ts=utc_now(),
            reason=status.reason,
            fps_decoded=rates.fps_decoded if rates else None,
            fps_detected=rates.fps_detected if rates else None,
            width=status.width,
            height=status.height,
        )
        self.publisher.set_retained(self.topics.camera_status(camera_id), payload.to_json())

    def _publish_worker_status(self) -> None:
        payload = EdgeStatusPayload(
            worker_id=self.worker_id,
            state="online",
            ts=utc_now(),
            cameras=sorted(self.cameras),
            version=__version__,
            config_error=self.config_error,
            sender_stalled=self._sender_stalled,
        )
        self.publisher.set_retained(self.topics.edge_status(self.worker_id), payload.to_json())

    def stats(self) -> EdgeStatsPayload:
        cameras = [self._camera_stats(cid, rc) for cid, rc in sorted(self.cameras.items())]
        return EdgeStatsPayload(
            worker_id=self.worker_id,
            ts=utc_now(),
            cameras=cameras,
            spool_depth=self.spool.depth,
            spool_dropped=self.spool.dropped,
            snapshots=SnapshotDirStats(**asdict(self.snapshots.stats)) if self.snapshots is not None else None,
            recording=self.recorder.report() if self.recorder is not None else None,
            sender=self.publisher.health(),
        )

    @staticmethod
    def _camera_stats(camera_id: str, running: RunningCamera) -> CameraStats:
        stats = camera_stats(camera_id, running.pipeline.counters, running.window, running.pipeline.queue.dropped)
        if running.live is None:
            return stats
        counts = running.live.counts
        return stats.model_copy(update={"live_published": counts.published, "live_dropped": counts.dropped})

    def publish_stats(self) -> None:
        """The stats message, and each online camera's status again with its measured frame rates."""
        stats = self.stats()
        self.publisher.publish_volatile(self.topics.edge_stats(self.worker_id), stats.to_json())
        for rates in stats.cameras:
            running = self.cameras.get(rates.camera_id)
            status = running.supervisor.status if running else None
            if status is not None and status.state == "online":
                self._publish_camera_status(rates.camera_id, status, rates)
