"""The alert engine as an app component: built from the app state, started after the database
and before the ingest (which then calls it as an observer), stopped in reverse order."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from contract.config.channels import MqttChannel, WebhookChannel
from contract.config.root import StreamsConfig
from contract.timeutil import utc_now
from server.alerts.core import RuleEngine
from server.alerts.engine import AlertEngine
from server.alerts.pg_repository import PgAlertRepository
from server.alerts.repository import AlertRepository
from server.notify.base import Dispatcher, Notifier
from server.notify.hub import AlertHub
from server.notify.mqtt import MqttNotifier
from server.notify.webhook import WebhookNotifier
from server.store.records import CameraStatus, StoredEvent, StoredReading

if TYPE_CHECKING:
    from server.state import AppState

logger = logging.getLogger(__name__)


def build_notifiers(
    config: StreamsConfig, repository: AlertRepository, broker_url: str, client_id: str
) -> dict[str, Notifier]:
    notifiers: dict[str, Notifier] = {}
    for channel in config.channels:
        if isinstance(channel, MqttChannel):
            prefix = config.mqtt.topic_prefix
            client = f"{client_id}-alerts-{channel.id}"
            notifiers[channel.id] = MqttNotifier(channel, broker_url, prefix, client, utc_now, store=repository)
        elif isinstance(channel, WebhookChannel):
            notifiers[channel.id] = WebhookNotifier(channel, utc_now, dead_letters=repository.save_dead_letter)
    return notifiers


def dashboard_ids(config: StreamsConfig) -> frozenset[str]:
    return frozenset({"dashboard", *(c.id for c in config.channels if c.type == "dashboard")})


class AlertComponent:
    """`Component` and `IngestObserver` in one: the app registers it as both."""

    def __init__(self, tick_interval_s: float = 1.0) -> None:
        self.tick_interval_s = tick_interval_s
        self.hub = AlertHub()
        self._engine: AlertEngine | None = None

    @property
    def engine(self) -> AlertEngine:
        if self._engine is None:
            raise RuntimeError("the alert engine is not started")
        return self._engine

    async def start(self, state: AppState) -> None:
        repository = PgAlertRepository(state.pool)
        notifiers = build_notifiers(state.config, repository, state.settings.mqtt_url, state.settings.mqtt_client_id)
        dispatcher = Dispatcher(self.hub, notifiers, dashboard_ids(state.config))
        self._engine = AlertEngine(RuleEngine(state.config), repository, dispatcher, utc_now, self.tick_interval_s)
        await self._engine.open()

    async def reload(self, config: StreamsConfig) -> None:
        """streams.yaml changed: new rules apply to the next observation (channels need a restart)."""
        await self.engine.reload(config)

    async def stop(self) -> None:
        self.hub.close()
        if self._engine is not None:
            await self._engine.close()

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        await self.engine.on_readings(readings)

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        await self.engine.on_events(events)

    async def on_camera_status(self, status: CameraStatus) -> None:
        await self.engine.on_camera_status(status)

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        await self.engine.on_sensor_availability(sensor_id, online, at)
