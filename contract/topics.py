"""MQTT topic names: one place that both sides use."""

from __future__ import annotations

from dataclasses import dataclass

from contract.config.sensors import Sensor


@dataclass(frozen=True)
class Topics:
    """Topic builder for a prefix (default `ioc`)."""

    prefix: str = "ioc"

    def sensor(self, sensor_id: str) -> str:
        return f"{self.prefix}/sensors/{sensor_id}"

    def sensor_topic(self, sensor: Sensor) -> str:
        """Where a configured sensor publishes: its own `topic`, or the native one."""
        return sensor.topic or self.sensor(sensor.id)

    @property
    def all_sensors(self) -> str:
        return f"{self.prefix}/sensors/+"

    def gateway(self, gateway_id: str) -> str:
        """Gateways and data loggers publish `ReadingBatchPayload`s here."""
        return f"{self.prefix}/gateways/{gateway_id}"

    @property
    def all_gateways(self) -> str:
        return f"{self.prefix}/gateways/+"

    def camera_status(self, camera_id: str) -> str:
        return f"{self.prefix}/cameras/{camera_id}/status"

    def camera_events(self, camera_id: str) -> str:
        return f"{self.prefix}/cameras/{camera_id}/events"

    def camera_detections(self, camera_id: str) -> str:
        """`LiveDetectionsPayload`s, QoS 0. Rooted at `live/` so that they lie outside the durable
        stream's `<prefix>.>` subjects and outside `<prefix>/#` subscriptions: never stored."""
        return f"live/{self.prefix}/cameras/{camera_id}/detections"

    @property
    def all_camera_detections(self) -> str:
        return f"live/{self.prefix}/cameras/+/detections"

    def parse_detections_camera_id(self, topic: str) -> str | None:
        """`live/ioc/cameras/<id>/detections` -> `<id>`."""
        parts = topic.split("/")
        base = ["live", *self.prefix.split("/")]
        if parts[: len(base)] != base or len(parts) != len(base) + 3 or parts[len(base)] != "cameras":
            return None
        return parts[len(base) + 1] if parts[-1] == "detections" else None

    @property
    def all_camera_status(self) -> str:
        return f"{self.prefix}/cameras/+/status"

    @property
    def all_camera_events(self) -> str:
        return f"{self.prefix}/cameras/+/events"

    def camera_recordings(self, camera_id: str) -> str:
        """Retained `RecordingRangesPayload`: the ranges the edge has recorded for the camera."""
        return f"{self.prefix}/cameras/{camera_id}/recordings"

    @property
    def all_camera_recordings(self) -> str:
        return f"{self.prefix}/cameras/+/recordings"

    def record_requests(self, worker_id: str) -> str:
        """`RecordRequestPayload`s from the server to one edge worker (a command topic, QoS 1)."""
        return f"{self.prefix}/edge/{worker_id}/commands/record"

    def edge_status(self, worker_id: str) -> str:
        return f"{self.prefix}/edge/{worker_id}/status"

    def edge_stats(self, worker_id: str) -> str:
        return f"{self.prefix}/edge/{worker_id}/stats"

    @property
    def all_edge(self) -> str:
        return f"{self.prefix}/edge/+/+"

    def alert(self, alert_id: str) -> str:
        return f"{self.prefix}/alerts/{alert_id}"

    @property
    def all_alerts(self) -> str:
        return f"{self.prefix}/alerts/#"

    def parse_camera_id(self, topic: str) -> str | None:
        """`ioc/cameras/<id>/events` -> `<id>`."""
        parts = topic.split("/")
        base = self.prefix.split("/")
        if parts[: len(base)] != base or len(parts) != len(base) + 3 or parts[len(base)] != "cameras":
            return None
        return parts[len(base) + 1]

    def parse_sensor_id(self, topic: str) -> str | None:
        parts = topic.split("/")
        base = self.prefix.split("/")
        if parts[: len(base)] != base or len(parts) != len(base) + 2 or parts[len(base)] != "sensors":
            return None
        return parts[len(base) + 1]

    def parse_worker_id(self, topic: str) -> str | None:
        parts = topic.split("/")
        base = self.prefix.split("/")
        if parts[: len(base)] != base or len(parts) != len(base) + 3 or parts[len(base)] != "edge":
            return None
        return parts[len(base) + 1]
