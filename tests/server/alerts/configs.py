"""Small StreamsConfig trees for alert tests, built in code (no file, no environment)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contract.config.root import StreamsConfig
from server.alerts.model import AlertChange
from server.notify.outbox import Delivery

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 08:00 in Sóc Trăng (UTC+7)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


SITES = [
    {"id": "long-phu", "name": "Long Phú", "timezone": "Asia/Ho_Chi_Minh"},
    {"id": "tran-de", "name": "Trần Đề", "timezone": "Asia/Ho_Chi_Minh"},
]
SENSORS = [
    {"id": "sal-a", "name": "A", "kind": "salinity", "unit": "‰", "site": "long-phu"},
    {"id": "sal-b", "name": "B", "kind": "salinity", "unit": "‰", "site": "long-phu"},
    {"id": "sal-c", "name": "C", "kind": "salinity", "unit": "‰", "site": "tran-de"},
]
CAMERAS = [
    {
        "id": "gate",
        "name": "Gate",
        "site": "long-phu",
        "worker": "edge-1",
        "source": {"type": "rtsp", "url": "rtsp://10.0.0.1/live"},
        "zones": [{"id": "entrance", "points": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}],
        "lines": [{"id": "door", "start": [0.0, 0.5], "end": [1.0, 0.5]}],
    }
]
SALINITY_4 = {
    "id": "salinity-intrusion",
    "name": "Salinity 4",
    "type": "threshold",
    "sensor_kind": "salinity",
    "raise": {"above": 4.0, "for": "10m"},
    "clear": {"below": 3.5, "for": "30m"},
    "severity": "critical",
}
WEBHOOK = {
    "id": "hook",
    "type": "webhook",
    "url": "http://127.0.0.1:9/hook",
    "secret": "a-very-long-shared-secret-value",
}


STREAMS_HEAD = """
version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites: [{{id: long-phu, name: Long Phu}}]
sensors:
  - {{id: sal-1, name: Salinity 1, kind: salinity, unit: "‰", site: long-phu, range: {{min: 0, max: 45}}}}
  - {{id: sal-2, name: Salinity 2, kind: salinity, unit: "‰", site: long-phu, range: {{min: 0, max: 45}}}}
"""
"""The streams.yaml head of the app-level alert tests (format with `prefix`): two salinity sensors."""


def make_config(rules: list[dict[str, Any]], **extra: Any) -> StreamsConfig:
    tree: dict[str, Any] = {
        "sites": SITES,
        "edge_workers": [{"id": "edge-1"}],
        "sensors": SENSORS,
        "cameras": CAMERAS,
        "channels": [{"id": "dashboard", "type": "dashboard"}, {"id": "responders", "type": "mqtt"}, WEBHOOK],
        "rules": rules,
    }
    tree.update(extra)
    return StreamsConfig.model_validate(tree)


def rule(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def delivery_of(change: AlertChange, channel_id: str = "hook", number: int = 0) -> Delivery:
    """The outbox row the engine would write for `change` on `channel_id`."""
    delivery_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{change.payload.id}/{change.action}/{channel_id}/{number}"))
    return Delivery(delivery_id, channel_id, change.action, change.payload)
