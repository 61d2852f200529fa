"""What the app lifespan owns, and the extension point for components (the alert engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from psycopg_pool import AsyncConnectionPool

from contract.config import StreamsConfig
from server.config_watch import ConfigStatus
from server.db.timescale import DatabaseFeatures
from server.ingest.observers import ObserverFanout
from server.ingest.service import IngestService
from server.loggers.service import StationFileReceiver
from server.metrics import Metrics
from server.settings import Settings
from server.store.pg import PgStore


@dataclass
class AppState:
    settings: Settings
    config: StreamsConfig
    metrics: Metrics
    pool: AsyncConnectionPool
    store: PgStore
    features: DatabaseFeatures
    observers: ObserverFanout
    config_status: ConfigStatus
    ingest: IngestService | None = None
    station_files: StationFileReceiver | None = None
    """the TT 10/2021 station-file receiver, when `station_files_dir` is set"""
    components: list[Component] = field(default_factory=list)


class Component(Protocol):
    """Something started after the database and before the ingest, stopped in reverse order.

    A component that also implements `IngestObserver` is registered as an observer before the
    ingest starts (the alert engine does both).
    """

    async def start(self, state: AppState) -> None: ...

    async def stop(self) -> None: ...
