"""Which (rule, subject) pairs an observation concerns, indexed once per config load.

A subject is what an alert is about: a sensor, a camera, or a camera's zone or line. Its labels
(rule, kind, site, sensor/camera, zone/line, severity) are what silences and inhibitions match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from contract.config.root import StreamsConfig
from contract.config.rules import (
    AlertRule,
    CameraOfflineRule,
    CameraRuleBase,
    LineCrossedRule,
    NoDataRule,
    RuleBase,
    SensorSelector,
)
from contract.config.sensors import Sensor
from server.alerts.observations import CameraSample, DetectionSample, Observation, SensorSample

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
ENTER_KINDS = frozenset({"zone_enter", "object_seen", "loitering", "zone_occupancy", "line_crossed"})


@dataclass(frozen=True, slots=True)
class Subject:
    key: str
    site: str | None
    labels: dict[str, str] = field(hash=False, compare=False)


Target = tuple[AlertRule, Subject]


def _base_labels(rule: RuleBase, kind: str, key: str, site: str | None) -> dict[str, str]:
    labels = {"rule": rule.id, "severity": rule.severity, "kind": kind, "subject": key}
    if site is not None:
        labels["site"] = site
    return labels


def sensor_subject(rule: RuleBase, sensor: Sensor) -> Subject:
    labels = _base_labels(rule, "sensor", sensor.id, sensor.site)
    labels.update(sensor=sensor.id, sensor_kind=sensor.kind, unit=sensor.unit)
    return Subject(sensor.id, sensor.site, labels)


def camera_subject(rule: RuleBase, config: StreamsConfig, camera_id: str, kind: str, part: str = "") -> Subject:
    camera = config.camera(camera_id)
    site = camera.site if camera is not None else None
    key = f"{camera_id}/{part}" if part else camera_id
    labels = _base_labels(rule, kind, key, site)
    labels["camera"] = camera_id
    return Subject(key, site, labels)


def selected_sensors(rule: SensorSelector, config: StreamsConfig) -> list[Sensor]:
    if rule.sensors:
        return [s for s in config.sensors if s.id in rule.sensors and s.enabled]
    return [
        s
        for s in config.sensors
        if s.enabled and s.kind == rule.sensor_kind and (rule.site is None or s.site == rule.site)
    ]


def detection_subject(rule: CameraRuleBase, config: StreamsConfig) -> Subject:
    if isinstance(rule, LineCrossedRule):
        subject = camera_subject(rule, config, rule.camera, "detection", rule.line)
        subject.labels["line"] = rule.line
        return subject
    zone: str = getattr(rule, "zone", "")
    subject = camera_subject(rule, config, rule.camera, "detection", zone)
    subject.labels["zone"] = zone
    return subject


class RuleIndex:
    """The enabled rules of a config, indexed by sensor and camera for quick routing."""

    def __init__(self, config: StreamsConfig) -> None:
        self.config = config
        self.rules: dict[str, AlertRule] = {rule.id: rule for rule in config.rules if rule.enabled}
        self._by_sensor: dict[str, list[Target]] = defaultdict(list)
        self._by_camera: dict[str, list[Target]] = defaultdict(list)
        self._any_camera: list[CameraOfflineRule] = []
        self.watched: list[Target] = []
        for rule in self.rules.values():
            self._index(rule)

    def _index(self, rule: AlertRule) -> None:
        if isinstance(rule, SensorSelector):
            for sensor in selected_sensors(rule, self.config):
                target = (rule, sensor_subject(rule, sensor))
                self._by_sensor[sensor.id].append(target)
                if isinstance(rule, NoDataRule):
                    self.watched.append(target)
        if isinstance(rule, NoDataRule):
            for camera_id in rule.cameras:
                target = (rule, camera_subject(rule, self.config, camera_id, "camera"))
                self._by_camera[camera_id].append(target)
                self.watched.append(target)
        elif isinstance(rule, CameraRuleBase):
            self._by_camera[rule.camera].append((rule, detection_subject(rule, self.config)))
        elif isinstance(rule, CameraOfflineRule):
            self._index_offline(rule)

    def _index_offline(self, rule: CameraOfflineRule) -> None:
        if not rule.cameras:
            self._any_camera.append(rule)
        for camera_id in rule.cameras:
            self._by_camera[camera_id].append((rule, camera_subject(rule, self.config, camera_id, "camera")))

    def watches_sensor(self, sensor_id: str) -> bool:
        """Whether some enabled rule evaluates this sensor's readings."""
        return sensor_id in self._by_sensor

    def all_targets(self) -> Iterator[Target]:
        for targets in (*self._by_sensor.values(), *self._by_camera.values()):
            yield from targets

    def site_timezone(self, site: str | None) -> str:
        found = self.config.site(site) if site else None
        return found.timezone if found is not None else DEFAULT_TIMEZONE

    def targets(self, observation: Observation) -> Iterator[Target]:
        if isinstance(observation, SensorSample):
            yield from self._by_sensor.get(observation.sensor_id, ())
            return
        for rule, subject in self._by_camera.get(observation.camera_id, ()):
            if wants(rule, observation):
                yield rule, subject
        if isinstance(observation, CameraSample):
            for offline in self._any_camera:
                yield offline, camera_subject(offline, self.config, observation.camera_id, "camera")


def wants(rule: AlertRule, observation: Observation) -> bool:
    """Whether a camera-side rule cares about this observation (zone, line, class, confidence)."""
    if isinstance(rule, NoDataRule):
        return True
    if isinstance(rule, CameraOfflineRule):
        return isinstance(observation, CameraSample)
    if not isinstance(rule, CameraRuleBase) or not isinstance(observation, DetectionSample):
        return False
    return _same_place(rule, observation) and _class_ok(rule, observation)


def _same_place(rule: CameraRuleBase, event: DetectionSample) -> bool:
    if isinstance(rule, LineCrossedRule):
        return event.line == rule.line
    return event.zone == getattr(rule, "zone", None) or (event.kind == "object_gone" and event.zone is None)


def _class_ok(rule: CameraRuleBase, event: DetectionSample) -> bool:
    if event.kind not in ENTER_KINDS:
        return True
    if rule.classes is not None and event.label is not None and event.label not in rule.classes:
        return False
    return event.confidence is None or event.confidence >= rule.min_confidence
