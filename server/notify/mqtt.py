"""Alert state for responders' apps: retained JSON on `<topic>/<alert_id>` (default `<prefix>/alerts`).

One paho client with its own network thread; `publish` is thread-safe and only queues, bounded
well below MQTT's 65,535 packet ids. A full queue drops the message and counts it (the dashboard
and the database still have the change).

A resolved alert's retained message is cleared (an empty retained payload, which subscribers see
once as an empty message) when the channel's `clear_resolved_after` has passed since the resolved
state was published. The pending clears are kept in a `RetainedStore`, so a restart still clears them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import paho.mqtt.client as mqtt

from contract.config.channels import MqttChannel
from contract.mqttclient import MqttProtocol, make_client
from contract.mqtturl import parse_mqtt_url
from server.notify.base import DeliveryCounts
from server.notify.outbox import DeadDelivery, Delivery, DeliveryLedger
from server.notify.retained import RetainedResolved, RetainedStore
from server.notify.templates import BodyRenderer

logger = logging.getLogger(__name__)

MAX_QUEUED = 10_000
MAX_SWEEP_INTERVAL_S = 60.0
MIN_SWEEP_INTERVAL_S = 0.05
RETIRE_FLUSH_S = 10.0


def sweep_interval(clear_after: timedelta) -> float:
    """How often due clears are looked for: a quarter of the age, within [0.05 s, 60 s]."""
    return min(MAX_SWEEP_INTERVAL_S, max(MIN_SWEEP_INTERVAL_S, clear_after.total_seconds() / 4))


class MqttNotifier:
    def __init__(
        self,
        channel: MqttChannel,
        broker_url: str,
        prefix: str,
        client_id: str,
        clock: Callable[[], datetime],
        store: RetainedStore | None = None,
        ledger: DeliveryLedger | None = None,
        counts: DeliveryCounts | None = None,
        protocol: MqttProtocol = "5",
    ) -> None:
        self.channel_id = channel.id
        self.topic = (channel.topic or f"{prefix}/alerts").rstrip("/")
        self.qos = channel.qos
        self.clear_after = channel.clear_resolved_after
        self._renderer = BodyRenderer(channel.id, channel.template)
        self._clock = clock
        self._store = store
        self._ledger = ledger
        self._counts = counts or DeliveryCounts()
        self._retained: dict[str, RetainedResolved] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._endpoint = parse_mqtt_url(broker_url)
        self._client = make_client(self._endpoint, client_id, protocol=protocol, reconnect_max_s=30)
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._unacked: set[int] = set()
        self._acked_early: set[int] = set()
        self._unacked_lock = threading.Lock()
        self.published = 0
        self.dropped = 0
        self.cleared = 0
        self.connected = False

    def topic_for(self, alert_id: str) -> str:
        return f"{self.topic}/{alert_id}"

    @property
    def retained_resolved(self) -> int:
        """Resolved alerts whose retained message is still to be cleared."""
        return len(self._retained)

    async def start(self) -> None:
        if self.clear_after is not None:
            await self._restore()
            self._sweeper = asyncio.create_task(self._sweep_forever(), name=f"mqtt-{self.channel_id}-clear")
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30)
        self._client.loop_start()

    async def _restore(self) -> None:
        if self._store is None:
            return
        try:
            entries = await self._store.retained_resolved(self.channel_id)
        except Exception:
            logger.exception("mqtt channel %s: could not load the resolved alerts to clear", self.channel_id)
            return
        self._retained.update({entry.alert_id: entry for entry in entries})

    @property
    def in_flight(self) -> int:
        return 0  # a delivery is finished once paho has queued it (paho resends it after a reconnect)

    async def deliver(self, delivery: Delivery) -> None:
        alert_id, payload = delivery.alert_id, delivery.payload
        if payload.state == "resolved":
            await self._remember(RetainedResolved(self.channel_id, alert_id, self.topic_for(alert_id), self._clock()))
        elif alert_id in self._retained:
            await self._forget([self._retained.pop(alert_id).alert_id])
        rendered = self._renderer.render(delivery)
        if self._publish(self.topic_for(alert_id), payload.to_json() if rendered is None else rendered):
            self._counts.count(self.channel_id, "delivered")
            await self._record(delivery, None)
            return
        logger.error("mqtt channel %s: alert %s not queued (kept in alert_dead_deliveries)", self.channel_id, alert_id)
        self._counts.count(self.channel_id, "dead")
        await self._record(delivery, "the MQTT client's queue is full")

    async def _record(self, delivery: Delivery, error: str | None) -> None:
        if self._ledger is None:
            return
        try:
            if error is None:
                await self._ledger.delivered(delivery, self._clock())
            else:
                await self._ledger.dead(DeadDelivery.of(delivery, delivery.attempts + 1, error, self._clock()))
        except Exception:
            logger.exception(
                "mqtt channel %s: could not record alert %s in the outbox", self.channel_id, delivery.alert_id
            )

    def _publish(self, topic: str, payload: str | bytes) -> bool:
        info = self._client.publish(topic, payload, qos=self.qos, retain=True)
        if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            if self.qos > 0:
                self._track(info.mid)
            self.published += 1  # NO_CONN: queued, sent after reconnect
            return True
        self.dropped += 1
        logger.debug("mqtt channel %s: publish to %s refused (rc %s)", self.channel_id, topic, info.rc)
        return False

    async def _remember(self, entry: RetainedResolved) -> None:
        """Record before publishing: a crash in between leaves a clear of nothing, not a stale message."""
        if self.clear_after is None:
            return
        self._retained[entry.alert_id] = entry
        if self._store is None:
            return
        try:
            await self._store.save_retained_resolved(entry)
        except Exception:
            logger.exception("mqtt channel %s: could not record alert %s to clear", self.channel_id, entry.alert_id)

    async def _forget(self, alert_ids: Sequence[str]) -> None:
        if self._store is None or not alert_ids:
            return
        try:
            await self._store.forget_retained_resolved(self.channel_id, alert_ids)
        except Exception:
            logger.exception("mqtt channel %s: could not forget %s cleared alerts", self.channel_id, len(alert_ids))

    async def sweep(self) -> int:
        """Clear the retained messages of resolved alerts older than `clear_resolved_after`."""
        if self.clear_after is None:
            return 0
        now = self._clock()
        due = [entry for entry in self._retained.values() if entry.published_at + self.clear_after <= now]
        cleared = [entry.alert_id for entry in due if self._publish(entry.topic, b"")]
        for alert_id in cleared:
            del self._retained[alert_id]
        self.cleared += len(cleared)
        await self._forget(cleared)
        return len(cleared)

    async def _sweep_forever(self) -> None:
        assert self.clear_after is not None
        interval = sweep_interval(self.clear_after)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                logger.exception("mqtt channel %s: clearing resolved alerts failed", self.channel_id)

    async def flush(self, timeout: float) -> bool:
        """Wait (at most `timeout`) until the broker has acknowledged every QoS 1/2 publish."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._unacked_lock:
                if not self._unacked:
                    return True
            await asyncio.sleep(0.02)
        with self._unacked_lock:
            return not self._unacked

    async def retire(self) -> None:
        """Replaced by a reload: let the broker acknowledge what is queued, then disconnect. Pending
        clears stay in the store for the channel's next notifier."""
        await self._stop_sweeper()
        if not await self.flush(timeout=RETIRE_FLUSH_S):
            logger.warning("mqtt channel %s: retired with unacknowledged messages", self.channel_id)
        await self.close()

    async def _stop_sweeper(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def close(self) -> None:
        await self._stop_sweeper()
        self._client.disconnect()
        self._client.loop_stop()

    def _track(self, mid: int) -> None:
        with self._unacked_lock:
            if mid in self._acked_early:
                self._acked_early.discard(mid)  # the network thread was faster than publish() returning
            else:
                self._unacked.add(mid)

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        if self.qos == 0:
            return
        with self._unacked_lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:
                self._acked_early.add(mid)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if not self.connected:
            logger.info("mqtt channel %s connected to %s", self.channel_id, self._endpoint.redacted)
        self.connected = True

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        if self.connected:
            logger.warning("mqtt channel %s lost %s: %s", self.channel_id, self._endpoint.redacted, reason)
        self.connected = False
