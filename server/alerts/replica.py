"""Shared replicas: the part of the alerts that runs on every replica, leader or follower (a plain
component, started for the app's whole life, and an ingest observer): the post-commit NOTIFY
that wakes the leader's tail (`commit_notify.py`), the database-fed dashboard feed (`feed.py`),
and the follower's alerts API (`follower.py`) with its command client (`commands.py`), and the
leader's incident changes for the dashboard feed (`server.incidents.feed`), all over one `LISTEN`
connection. Its counts are on /metrics (`ReplicaCollector`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from server.alerts.change_notify import CHANGE_CHANNEL
from server.alerts.commands import DONE_CHANNEL, CommandClient
from server.alerts.commit_notify import CommitNotifier
from server.alerts.feed import ChangeFeed
from server.alerts.follower import FollowerAlerts
from server.db.listener import PgListener
from server.incidents.change_notify import INCIDENT_CHANNEL
from server.incidents.feed import IncidentFeed
from server.metrics import ReplicaCollector
from server.notify.hub import AlertHub
from server.store.records import StoredCameraStatus, StoredEvent, StoredReading

if TYPE_CHECKING:
    from server.state import Services


class ReplicaAlerts:
    def __init__(self, command_timeout_s: float = 5.0) -> None:
        self.command_timeout_s = command_timeout_s
        self.hub = AlertHub()
        self._follower: FollowerAlerts | None = None
        self._listener: PgListener | None = None
        self._notifier: CommitNotifier | None = None
        self._commands: CommandClient | None = None
        self._exported: tuple[CollectorRegistry, ReplicaCollector] | None = None

    @property
    def follower(self) -> FollowerAlerts:
        if self._follower is None:
            raise RuntimeError("the replica alerts are not started")
        return self._follower

    @property
    def listening(self) -> bool:
        return self._listener is not None and self._listener.listening

    async def start(self, state: Services) -> None:
        self._notifier = CommitNotifier(state.pool)
        feed = ChangeFeed(state.pool, self.hub)
        await feed.seed()
        commands = self._commands = CommandClient(state.pool, self.command_timeout_s)
        self._follower = FollowerAlerts(state.pool, commands, self.hub, lambda: state.config)
        incidents = IncidentFeed(state.pool, self.hub)  # the leader's incident changes, as its alerts'
        handlers = {
            CHANGE_CHANNEL: feed.on_notification,
            INCIDENT_CHANNEL: incidents.on_notification,
            DONE_CHANNEL: commands.on_done,
        }
        self._listener = PgListener(state.settings.database_url, handlers, "alert-feed", feed.reconnected)
        self._listener.start()
        self._export(state)

    def _export(self, state: Services) -> None:
        def tail_rows() -> Mapping[str, int]:
            tail = state.alerts.tail if state.alerts is not None else None
            return tail.rows if tail is not None else {}

        def tail_evicted() -> int:
            tail = state.alerts.tail if state.alerts is not None else None
            return tail.seen.evicted_recent if tail is not None else 0

        def listener_failures() -> int:
            alerts = state.alerts
            leader_side = [alerts.commands, alerts.tail] if alerts is not None else []
            return self._listener_failures() + sum(part.listener_failures for part in leader_side if part is not None)

        collector = ReplicaCollector(
            notify_failures=lambda: self._notifier.failures if self._notifier is not None else 0,
            listener_failures=listener_failures,
            commands_expired=lambda: self._commands.expired if self._commands is not None else 0,
            tail_rows=tail_rows,
            tail_evicted=tail_evicted,
        )
        state.metrics.registry.register(collector)
        self._exported = (state.metrics.registry, collector)

    def _listener_failures(self) -> int:
        return self._listener.handler_failures if self._listener is not None else 0

    async def stop(self) -> None:
        if self._exported is not None:
            registry, collector = self._exported
            registry.unregister(collector)
            self._exported = None
        if self._listener is not None:
            await self._listener.stop()
        self.hub.close()

    # ----------------------------------------------------------------- IngestObserver

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        if self._notifier is not None:
            await self._notifier.on_readings(readings)

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        if self._notifier is not None:
            await self._notifier.on_events(events)

    async def on_camera_status(self, status: StoredCameraStatus) -> None:
        if self._notifier is not None:
            await self._notifier.on_camera_status(status)

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        return None
