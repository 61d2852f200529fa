"""The composition root's product: one typed `Services` object, built by the app lifespan from the
settings the entry point made, and the extension point for components.

Routes never look services up on `app.state` themselves: `services_of(conn)` is the one lookup and
`server.api.deps` has one `Annotated` dependency per service. `config` is replaced on every
accepted streams.yaml edit, so a dependency that reads it per request follows reloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from fastapi import HTTPException, status
from psycopg_pool import AsyncConnectionPool
from starlette.requests import HTTPConnection

from contract.config import StreamsConfig
from contract.redact import SecretRedactor
from server.auth.policy import RoutePolicy
from server.auth.scope import ScopedViews
from server.auth.service import AuthService
from server.config_watch import ConfigStatus
from server.db.timescale import DatabaseFeatures
from server.ingest.observers import ObserverFanout
from server.ingest.service import IngestService
from server.leader_only import LeaderOnlyComponents
from server.leadership import Leadership
from server.live.hub import LiveHub
from server.loggers.service import StationFileReceiver
from server.metrics import Metrics
from server.overlay.fanout import DetectionFanout
from server.settings import Settings
from server.store.pg import PgStore

if TYPE_CHECKING:
    from server.alerts.component import AlertComponent
    from server.alerts.replica import ReplicaAlerts
    from server.edge_stats import EdgeStatsBoard
    from server.evidence.component import EvidenceComponent
    from server.incidents.component import IncidentComponent
    from server.overlay.feed import LiveFrameFeed


@dataclass
class Services:
    settings: Settings
    config: StreamsConfig
    metrics: Metrics
    pool: AsyncConnectionPool
    store: PgStore
    features: DatabaseFeatures
    observers: ObserverFanout
    config_status: ConfigStatus
    auth: AuthService
    route_policy: RoutePolicy
    live: LiveHub
    overlay: DetectionFanout
    redactor: SecretRedactor
    """the process's log redactor, knowing the secrets of the settings and the running config"""
    leadership: Leadership
    """whether this replica is the leader (always, in `replica_mode: single`)"""
    leader_only: LeaderOnlyComponents
    """components that run on the leader only (alert engine, retention; register more with `add`)"""
    alerts: AlertComponent | None = None
    incidents: IncidentComponent | None = None
    """incidents, SOPs and escalation (runs with the alert engine)"""
    replica_alerts: ReplicaAlerts | None = None
    """shared replicas: the database-fed dashboard feed and the follower's alerts API (every replica)"""
    evidence: EvidenceComponent | None = None
    """clips, review, cases, exports and the audit log (`server.evidence`)"""
    ingest: IngestService | None = None
    overlay_feed: LiveFrameFeed | None = None
    """live detection frames from the edge to the overlay (every replica, with the ingest)"""
    edge_stats: EdgeStatsBoard | None = None
    """the edge workers' latest stats, exported on /metrics (every replica, with the ingest)"""
    station_files: StationFileReceiver | None = None
    """the TT 10/2021 station-file receiver, when `station_files_dir` is set"""
    components: list[Component] = field(default_factory=list)
    """every component, the alert component included (in start order; leader-only ones last,
    running only while this replica leads)"""
    scoped_views: ScopedViews = field(default_factory=ScopedViews)
    """the part of `config` each site-scoped caller sees"""


AppState = Services
"""The former name, kept for components typed against it."""


class Component(Protocol):
    """Something started after the database and before the ingest, stopped in reverse order.

    A component that also implements `IngestObserver` is registered as an observer before the
    ingest starts (the alert engine does both); one that implements `Reloadable` follows
    streams.yaml edits.
    """

    async def start(self, state: Services) -> None: ...

    async def stop(self) -> None: ...


def services_of(conn: HTTPConnection) -> Services:
    """The running app's services (HTTP and WebSocket); 503 while the app is not started."""
    services: Services | None = getattr(conn.app.state, "ioc", None)
    if services is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the server is starting")
    return services
