"""The root of the streams.yaml model tree."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contract.config.cameras import Camera
from contract.config.channels import DashboardChannel, NotificationChannel
from contract.config.console import ConsoleSettings
from contract.config.detectors import DetectorConfig, UltralyticsDetector
from contract.config.incidents import EscalationPolicy, Sop
from contract.config.rules import AlertRule, Inhibition, Silence
from contract.config.sensors import Sensor
from contract.config.sites import EdgeWorker, MqttSettings, RetentionSettings, Site
from contract.config.stations import Station
from contract.config.types import StrictModel

IMPLICIT_DASHBOARD = "dashboard"


def _default_detectors() -> dict[str, DetectorConfig]:
    return {"default": UltralyticsDetector(type="ultralytics", model="models/yolo11n.pt", imgsz=640)}


class StreamsConfig(StrictModel):
    """Everything an IOC deployment watches, in one file."""

    version: Literal[1] = 1
    """Format version of this file; always 1."""
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    """Topic prefix and the shared-subscription group of server replicas."""
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    """How long each kind of data is kept."""
    sites: list[Site] = Field(min_length=1)
    """Places (city, district, station) that cameras and sensors belong to."""
    edge_workers: list[EdgeWorker] = Field(default_factory=list)
    """Edge hosts; each camera names the worker that runs it."""
    detectors: dict[str, DetectorConfig] = Field(default_factory=_default_detectors)
    """Named object detectors; cameras choose one with `detect.detector`."""
    cameras: list[Camera] = Field(default_factory=list)
    """RTSP cameras (or looping files) watched by the edge workers."""
    sensors: list[Sensor] = Field(default_factory=list)
    """Environmental sensors publishing over MQTT."""
    stations: list[Station] = Field(default_factory=list)
    """Monitoring stations delivering TT 10/2021 files (FTP or drop directory)."""
    channels: list[NotificationChannel] = Field(default_factory=list)
    """Where alerts go. `dashboard` exists even when not declared."""
    rules: list[AlertRule] = Field(default_factory=list)
    """Alert rules over sensor readings and detection events."""
    silences: list[Silence] = Field(default_factory=list)
    """Planned silences (maintenance); operators add more in the console."""
    inhibitions: list[Inhibition] = Field(default_factory=list)
    """Alerts that mute others while they fire."""
    sops: list[Sop] = Field(default_factory=list)
    """Standard operating procedures that incidents follow."""
    escalations: list[EscalationPolicy] = Field(default_factory=list)
    """Who is notified of an open incident, level after level, until someone acknowledges."""
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    """The operator console: its title, colour bands and base map."""

    def site(self, site_id: str) -> Site | None:
        return next((site for site in self.sites if site.id == site_id), None)

    def camera(self, camera_id: str) -> Camera | None:
        return next((camera for camera in self.cameras if camera.id == camera_id), None)

    def sensor(self, sensor_id: str) -> Sensor | None:
        return next((sensor for sensor in self.sensors if sensor.id == sensor_id), None)

    def station(self, station_id: str) -> Station | None:
        return next((station for station in self.stations if station.id == station_id), None)

    def channel(self, channel_id: str) -> NotificationChannel | None:
        """A declared channel; `dashboard` always exists, declared or not."""
        found = next((channel for channel in self.channels if channel.id == channel_id), None)
        if found is None and channel_id == IMPLICIT_DASHBOARD:
            return DashboardChannel(id=IMPLICIT_DASHBOARD, type="dashboard")
        return found

    def sop(self, sop_id: str) -> Sop | None:
        return next((sop for sop in self.sops if sop.id == sop_id), None)

    def escalation(self, policy_id: str) -> EscalationPolicy | None:
        return next((policy for policy in self.escalations if policy.id == policy_id), None)

    def cameras_for_worker(self, worker_id: str) -> list[Camera]:
        return [camera for camera in self.cameras if camera.worker == worker_id and camera.enabled]
