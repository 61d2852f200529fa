"""The streams.yaml model tree and its loader."""

from contract.config.cameras import Camera, CountingLine, FileSource, Mask, RtspSource, Zone
from contract.config.channels import DashboardChannel, MqttChannel, NotificationChannel, WebhookChannel
from contract.config.detectors import DetectorConfig, OnnxDetector, UltralyticsDetector
from contract.config.errors import ConfigError, ConfigIssue
from contract.config.loader import load_config, parse_config
from contract.config.root import StreamsConfig
from contract.config.rules import AlertRule, ThresholdRule
from contract.config.sensors import Sensor
from contract.config.sites import EdgeWorker, MqttSettings, RetentionSettings, Site

__all__ = [
    "AlertRule",
    "Camera",
    "ConfigError",
    "ConfigIssue",
    "CountingLine",
    "DashboardChannel",
    "DetectorConfig",
    "EdgeWorker",
    "FileSource",
    "Mask",
    "MqttChannel",
    "MqttSettings",
    "NotificationChannel",
    "OnnxDetector",
    "RetentionSettings",
    "RtspSource",
    "Sensor",
    "Site",
    "StreamsConfig",
    "ThresholdRule",
    "UltralyticsDetector",
    "WebhookChannel",
    "Zone",
    "load_config",
    "parse_config",
]
