"""Two server replicas in one test process, sharing one real PostgreSQL (no broker: each one's
"ingest" is its store's write followed by its observers, which is what the ingest does after a
commit, so the commit notifier sends the NOTIFY a real ingest would)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI

from server.alerts.component import AlertComponent
from server.app import create_app
from server.leadership import PgLeadership
from server.settings import Settings
from server.state import Services
from server.store.base import WriteBatch
from server.store.records import StoredCameraStatus, StoredEvent, StoredReading
from tests.server.alerts.configs import STREAMS_HEAD
from tests.server.helpers import make_settings, running_app

SECRET = "replicas-webhook-secret-0123456789"
STREAMS = (
    STREAMS_HEAD
    + """
channels:
  - {{id: hook, type: webhook, url: "{url}", secret: "{secret}"}}
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
    channels: [dashboard, hook]
"""
)
RETRY_S = 0.3


CAMERA_STREAMS = """
version: 1
mqtt: {{topic_prefix: unused, shared_group: null}}
sites: [{{id: long-phu, name: Long Phu}}]
edge_workers: [{{id: edge-1}}]
cameras:
  - id: gate
    name: Gate
    site: long-phu
    worker: edge-1
    source: {{type: rtsp, url: "rtsp://10.0.0.1/live"}}
    zones: [{{id: entrance, points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}}]
channels:
  - {{id: hook, type: webhook, url: "{url}", secret: "{secret}"}}
rules:
  - {{id: intrusion, type: object_in_zone, camera: gate, zone: entrance, channels: [dashboard, hook]}}
  - {{id: gate-offline, type: camera_offline, cameras: [gate], for: 0s, channels: [dashboard, hook]}}
"""
"""A camera with a zone: detection events and camera statuses stored by any replica."""


def replica_settings(database_url: str, tmp_path: Path, hook_url: str, streams: str = STREAMS) -> Settings:
    config = tmp_path / "streams.yaml"
    config.write_text(streams.format(prefix="unused", url=hook_url, secret=SECRET))
    return make_settings(
        database_url,
        "mqtt://127.0.0.1:1",
        config,
        ingest_enabled=False,
        replica_mode="shared",
        leader_retry_s=RETRY_S,
        replica_tail_poll_s=0.2,
    )


@dataclass
class Replica:
    name: str
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def services(self) -> Services:
        services: Services = self.app.state.ioc
        return services

    @property
    def is_leader(self) -> bool:
        return self.services.leadership.is_leader

    @property
    def alerts(self) -> AlertComponent:
        component = self.services.alerts
        assert component is not None
        return component

    async def store(self, sensor_id: str, at: datetime, value: float, received_at: datetime) -> None:
        """What this replica's ingest does with one reading: commit, then tell its observers."""
        batch = WriteBatch(readings=[StoredReading(sensor_id, at, value, received_at)])
        result = await self.services.store.write(batch)
        await self.services.observers.readings(result.readings)

    async def store_event(self, event: StoredEvent) -> None:
        result = await self.services.store.write(WriteBatch(events=[event]))
        await self.services.observers.events(result.events)

    async def store_camera_status(self, status: StoredCameraStatus) -> None:
        await self.services.store.write(WriteBatch(camera_statuses=[status]))
        await self.services.observers.camera_status(status)

    async def drop_lock_connection(self) -> None:
        leadership = self.services.leadership
        assert isinstance(leadership, PgLeadership)
        await leadership.drop_connection()


@contextlib.asynccontextmanager
async def replica(name: str, settings: Settings) -> AsyncIterator[Replica]:
    app = create_app(settings)
    async with running_app(settings, app) as client:
        yield Replica(name, app, client)
