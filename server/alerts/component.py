"""The alert engine as an app component: built from the app state, started after the database
and before the ingest (which then calls it as an observer), stopped in reverse order. Its counts
(failed saves, cut-off dashboard clients, deliveries) are exported on the app's /metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from contract.config.channels import MqttChannel, WebhookChannel
from contract.config.root import StreamsConfig
from contract.mqttclient import MqttProtocol
from contract.timeutil import utc_now
from server.alerts.core import RuleEngine
from server.alerts.engine import AlertEngine
from server.alerts.pg_repository import PgAlertRepository
from server.metrics import AlertCollector
from server.notify.base import DeliveryCounts, Dispatcher, Notifier, Routes
from server.notify.hub import AlertHub
from server.notify.mqtt import MqttNotifier
from server.notify.outbox import DeliveryLedger, PgOutbox
from server.notify.retained import PgRetainedStore, RetainedStore
from server.notify.webhook import WebhookNotifier
from server.store.records import StoredCameraStatus, StoredEvent, StoredReading

if TYPE_CHECKING:
    from server.state import AppState

logger = logging.getLogger(__name__)

MAX_CLIENT_ID = 64

PushChannel = MqttChannel | WebhookChannel
ChannelSpec = tuple[PushChannel, str]
"""A push channel and the topic prefix it was built under: a notifier is rebuilt when either changes."""


def channel_specs(config: StreamsConfig) -> dict[str, ChannelSpec]:
    return {
        channel.id: (channel, config.mqtt.topic_prefix if isinstance(channel, MqttChannel) else "")
        for channel in config.channels
        if isinstance(channel, MqttChannel | WebhookChannel)
    }


class NotifierFactory:
    """Builds a channel's notifier; MQTT client ids get a generation suffix after the first, so a
    replacement never kicks the client it replaces off the broker while that one flushes."""

    def __init__(
        self,
        ledger: DeliveryLedger,
        retained: RetainedStore,
        counts: DeliveryCounts,
        broker_url: str,
        client_id: str,
        protocol: MqttProtocol = "5",
    ) -> None:
        self.ledger = ledger
        self.retained = retained
        self.counts = counts
        self.broker_url = broker_url
        self.client_id = client_id
        self.protocol: MqttProtocol = protocol

    def build(self, spec: ChannelSpec, generation: int) -> Notifier:
        channel, prefix = spec
        if isinstance(channel, WebhookChannel):
            return WebhookNotifier(channel, utc_now, ledger=self.ledger, counts=self.counts)
        suffix = f"-{generation}" if generation else ""
        client = f"{self.client_id}-alerts-{channel.id}"[: MAX_CLIENT_ID - len(suffix)] + suffix
        return MqttNotifier(
            channel,
            self.broker_url,
            prefix,
            client,
            utc_now,
            store=self.retained,
            ledger=self.ledger,
            counts=self.counts,
            protocol=self.protocol,
        )


def rebuilt(
    specs: dict[str, ChannelSpec],
    current: Mapping[str, Notifier],
    current_specs: Mapping[str, ChannelSpec],
    build: Callable[[ChannelSpec], Notifier],
) -> dict[str, Notifier]:
    """Notifiers for `specs`: the current one where its channel is unchanged, a new one otherwise."""
    notifiers: dict[str, Notifier] = {}
    for channel_id, spec in specs.items():
        kept = current.get(channel_id)
        unchanged = kept is not None and current_specs.get(channel_id) == spec
        notifiers[channel_id] = kept if unchanged and kept is not None else build(spec)
    return notifiers


def dashboard_ids(config: StreamsConfig) -> frozenset[str]:
    return frozenset({"dashboard", *(c.id for c in config.channels if c.type == "dashboard")})


class AlertComponent:
    """`Component` and `IngestObserver` in one: the app registers it as both."""

    def __init__(self, tick_interval_s: float = 1.0) -> None:
        self.tick_interval_s = tick_interval_s
        self.hub = AlertHub()
        self.deliveries = DeliveryCounts()
        self._exported: tuple[CollectorRegistry, AlertCollector] | None = None
        self._engine: AlertEngine | None = None
        self._factory: NotifierFactory | None = None
        self._specs: dict[str, ChannelSpec] = {}
        self._generation = 0

    @property
    def engine(self) -> AlertEngine:
        if self._engine is None:
            raise RuntimeError("the alert engine is not started")
        return self._engine

    async def start(self, state: AppState) -> None:
        ledger = PgOutbox(state.pool)
        settings = state.settings
        self._factory = NotifierFactory(
            ledger,
            PgRetainedStore(state.pool),
            self.deliveries,
            settings.mqtt_url,
            settings.mqtt_client_id,
            settings.mqtt_protocol,
        )
        self._specs = channel_specs(state.config)
        notifiers = {channel_id: self._factory.build(spec, 0) for channel_id, spec in self._specs.items()}
        dispatcher = Dispatcher(self.hub, notifiers, dashboard_ids(state.config), ledger)
        engine = AlertEngine(
            RuleEngine(state.config),
            PgAlertRepository(state.pool),
            dispatcher,
            utc_now,
            self.tick_interval_s,
            stored=state.store,
        )
        self._engine = engine
        await engine.open()
        collector = AlertCollector(
            failures=lambda: engine.failures,
            ws_cut_off=lambda: self.hub.cut_off,
            outbox_pending=lambda: engine.dispatcher.in_flight + len(engine.unsaved),
            unsaved_dropped=lambda: engine.unsaved.dropped,
            deliveries=lambda: self.deliveries.counts,
        )
        state.metrics.registry.register(collector)
        self._exported = (state.metrics.registry, collector)

    async def reload(self, config: StreamsConfig) -> None:
        """streams.yaml changed: changed, added and removed channels get new notifiers (the replaced
        ones finish their deliveries in the background); new rules apply to the next observation."""
        specs = channel_specs(config)
        self._generation += 1
        factory, generation = self._factory, self._generation
        assert factory is not None, "start() the component first"
        notifiers = rebuilt(
            specs, self.engine.dispatcher.notifiers, self._specs, lambda spec: factory.build(spec, generation)
        )
        await self.engine.reload(config, Routes(notifiers, dashboard_ids(config)))
        changed = sorted(cid for cid in specs.keys() | self._specs.keys() if specs.get(cid) != self._specs.get(cid))
        self._specs = specs
        if changed:
            logger.info("alert channels reloaded: %s", ", ".join(changed))

    async def stop(self) -> None:
        if self._exported is not None:
            registry, collector = self._exported
            registry.unregister(collector)
            self._exported = None
        self.hub.close()
        if self._engine is not None:
            await self._engine.close()

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        await self.engine.on_readings(readings)

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        await self.engine.on_events(events)

    async def on_camera_status(self, status: StoredCameraStatus) -> None:
        await self.engine.on_camera_status(status)

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        await self.engine.on_sensor_availability(sensor_id, online, at)
