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
from server.store.records import StoredReading
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


def replica_settings(database_url: str, tmp_path: Path, hook_url: str) -> Settings:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix="unused", url=hook_url, secret=SECRET))
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

    async def drop_lock_connection(self) -> None:
        leadership = self.services.leadership
        assert isinstance(leadership, PgLeadership)
        await leadership.drop_connection()


@contextlib.asynccontextmanager
async def replica(name: str, settings: Settings) -> AsyncIterator[Replica]:
    app = create_app(settings)
    async with running_app(settings, app) as client:
        yield Replica(name, app, client)
