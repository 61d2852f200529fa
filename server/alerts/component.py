"""The alert engine as an app component: built from the app state, started after the database
and before the ingest (which then calls it as an observer), stopped in reverse order. Its counts
(failed saves, cut-off dashboard clients, deliveries) are exported on the app's /metrics.

It is a leader-only component (`server.leader_only`): with several replicas it runs on the
leader only, started on each gain and stopped on each loss; until started it ignores what the
ingest hands it. In `replica_mode: shared` the engine is fed by the database tail (`tail.py`:
what every replica stored), not by this replica's ingest. Its dispatcher claims its outbox rows
(`OutboxClaim`), renews the claims while it runs, takes over rows whose claim ran out, and
releases its own when it stops."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from contract.config.channels import MqttChannel, WebhookChannel
from contract.config.root import StreamsConfig
from contract.mqttclient import MqttProtocol
from contract.timeutil import utc_now
from server.alerts.command_applier import CommandApplier
from server.alerts.core import RuleEngine
from server.alerts.engine import AlertEngine
from server.alerts.pg_repository import PgAlertRepository
from server.alerts.tail import StoredTail
from server.metrics import AlertCollector
from server.notify.base import DeliveryCounts, Dispatcher, Notifier, Routes
from server.notify.hub import AlertHub
from server.notify.mqtt import MqttNotifier
from server.notify.outbox import CLAIM_LEASE_S, DeliveryLedger, OutboxClaim, PgOutbox
from server.notify.retained import PgRetainedStore, RetainedStore
from server.notify.webhook import WebhookNotifier
from server.store.records import StoredCameraStatus, StoredEvent, StoredReading
from server.tasks import cancel_until_done

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


def _fence_of(state: AppState) -> Callable[[], int | None]:
    leadership = state.leadership
    return lambda: leadership.fencing_token


def dashboard_ids(config: StreamsConfig) -> frozenset[str]:
    return frozenset({"dashboard", *(c.id for c in config.channels if c.type == "dashboard")})


class AlertComponent:
    """`Component` and `IngestObserver` in one: the app registers it as both."""

    def __init__(self, tick_interval_s: float = 1.0, claim_lease_s: float = CLAIM_LEASE_S) -> None:
        self.tick_interval_s = tick_interval_s
        self.claim_lease_s = claim_lease_s
        self.hub = AlertHub()
        self.tail: StoredTail | None = None
        self.commands: CommandApplier | None = None
        self._outbox: PgOutbox | None = None
        self._claims: asyncio.Task[None] | None = None
        self._shared = False
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

    @property
    def running(self) -> bool:
        """Started (this replica is the leader) and not stopped."""
        return self._engine is not None

    async def start(self, state: AppState) -> None:
        settings = state.settings
        shared = settings.replica_mode == "shared"
        self.hub = AlertHub()  # a fresh one per leadership term (the last one was closed)
        claim = OutboxClaim(f"{settings.mqtt_client_id}-{uuid.uuid4().hex[:8]}", self.claim_lease_s)
        ledger = self._outbox = PgOutbox(state.pool, claim)
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
            PgAlertRepository(state.pool, claim, notify_changes=shared, fence=_fence_of(state) if shared else None),
            dispatcher,
            utc_now,
            self.tick_interval_s,
            stored=state.store,
        )
        try:
            await engine.open()
        except Exception:
            await dispatcher.close()  # its notifiers were started: no client left behind for the retry
            raise
        self._engine = engine
        self._shared = shared
        if shared:
            poll, overlap = settings.replica_tail_poll_s, settings.replica_tail_overlap_s
            self.tail = StoredTail(engine, state.store, settings.database_url, poll, overlap)
            self.tail.start()
            self.commands = CommandApplier(engine, state.pool, settings.database_url)
            await self.commands.start()
        self._claims = asyncio.create_task(self._keep_claims(ledger, dispatcher), name="alert-outbox-claims")
        feed = state.replica_alerts.hub if state.replica_alerts is not None else None
        collector = AlertCollector(
            failures=lambda: engine.failures,
            ws_cut_off=lambda: self.hub.cut_off + (feed.cut_off if feed is not None else 0),
            outbox_pending=lambda: engine.dispatcher.in_flight + len(engine.unsaved),
            unsaved_dropped=lambda: engine.unsaved.dropped,
            deliveries=lambda: self.deliveries.counts,
        )
        state.metrics.registry.register(collector)
        self._exported = (state.metrics.registry, collector)

    async def _keep_claims(self, outbox: PgOutbox, dispatcher: Dispatcher) -> None:
        """Renew this dispatcher's outbox claims, and take over rows whose claim ran out (a
        dispatcher that died) or was released (one that stopped), every third of the lease."""
        failing = 0
        while True:
            await asyncio.sleep(outbox.claim.lease_s / 3)
            try:
                await outbox.renew()
                await dispatcher.resume(utc_now())
            except Exception:
                failing += 1
                if failing == 1:
                    logger.exception(
                        "alert outbox: renewing claims failed; retried every %ss", outbox.claim.lease_s / 3
                    )
                continue
            if failing:
                logger.info("alert outbox: claims renewed again after %s failures", failing)
                failing = 0

    async def reload(self, config: StreamsConfig) -> None:
        """streams.yaml changed: changed, added and removed channels get new notifiers (the replaced
        ones finish their deliveries in the background); new rules apply to the next observation.
        Not running (a follower): nothing to do, the next start reads the new config."""
        if self._engine is None:
            return
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
        if self.commands is not None:
            await self.commands.stop()
            self.commands = None
        if self.tail is not None:
            await self.tail.stop()
            self.tail = None
        if self._claims is not None:
            await cancel_until_done(self._claims)
            self._claims = None
        self.hub.close()
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.close()
        if self._outbox is not None:
            await self._release(self._outbox)
            self._outbox = None

    async def _release(self, outbox: PgOutbox) -> None:
        try:
            released = await outbox.release()
        except Exception as exc:
            logger.warning("alert outbox: releasing claims failed (%s); they are taken over after %ss", exc,
                           outbox.claim.lease_s)  # fmt: skip
            return
        if released:
            logger.info("alert outbox: %s undelivered rows released for the next dispatcher", released)

    def _observing(self) -> AlertEngine | None:
        """The engine when this replica's stored data feeds it (a single replica's leader)."""
        return None if self._shared else self._engine

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        if (engine := self._observing()) is not None:
            await engine.on_readings(readings)

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        if (engine := self._observing()) is not None:
            await engine.on_events(events)

    async def on_camera_status(self, status: StoredCameraStatus) -> None:
        if (engine := self._observing()) is not None:
            await engine.on_camera_status(status)

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        if (engine := self._observing()) is not None:
            await engine.on_sensor_availability(sensor_id, online, at)
