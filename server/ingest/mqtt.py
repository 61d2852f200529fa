"""The broker connection: paho-mqtt 2.x, MQTT 5, persistent session, QoS 1, manual acks.

paho's network thread only hands messages to the `InboundBuffer` (and waits there while it is
full: back-pressure); everything else happens on the asyncio loop. A message is acknowledged
(PUBACK) only after its rows are committed, and only on the connection it arrived on: after a
reconnect the broker redelivers what was not acked (counted in `ioc_ingest_unacked_total`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from contract.mqtturl import MqttEndpoint
from contract.timeutil import utc_now
from server.ingest.buffer import Inbound, InboundBuffer

logger = logging.getLogger(__name__)


class MqttSubscriber:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        shared: list[str],
        plain: list[str],
        buffer: InboundBuffer,
        receive_maximum: int,
        session_expiry_s: int,
    ) -> None:
        self._endpoint = endpoint
        self._shared = shared
        self._plain = plain
        self._buffer = buffer
        self._receive_maximum = receive_maximum
        self._session_expiry_s = session_expiry_s
        self._generation = 0
        self._stale_logged = 0  # the last connection whose unacknowledged messages were logged
        self._dropped_logged = False
        self._lock = threading.Lock()
        self.connected = False
        self.subscribed = False
        """True once the broker acknowledged the subscriptions of the current connection."""
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        if endpoint.username:
            self._client.username_pw_set(endpoint.username, endpoint.password)
        if endpoint.tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    @property
    def generation(self) -> int:
        return self._generation

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._session_expiry_s
        properties.ReceiveMaximum = self._receive_maximum
        self._client.connect_async(
            self._endpoint.host, self._endpoint.port, keepalive=30, clean_start=False, properties=properties
        )
        self._client.loop_start()
        logger.info("connecting to %s", self._endpoint.redacted)

    def stop(self) -> None:
        with self._lock:
            self.connected = False
        self._buffer.close()  # a network thread waiting for room gives up (the broker redelivers)
        self._client.disconnect()
        self._client.loop_stop()

    def set_topics(self, shared: list[str], plain: list[str]) -> None:
        """Subscribe to new filters and drop old ones now (and on every reconnect from now on)."""
        with self._lock:
            before = {*self._shared, *self._plain}
            self._shared, self._plain = shared, plain
            after = {*shared, *plain}
            connected = self.connected
        added, removed = sorted(after - before), sorted(before - after)
        if connected and added:
            options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE)
            self._client.subscribe([(topic, options) for topic in added])
        if connected and removed:
            self._client.unsubscribe(removed)
        if added or removed:
            logger.info("subscriptions changed: +%d -%d topic filters", len(added), len(removed))

    def ack(self, items: Iterable[Inbound]) -> int:
        """PUBACK every QoS 1 item that arrived on the current connection; returns how many."""
        count = 0
        stale: list[Inbound] = []
        with self._lock:
            generation = self._generation if self.connected else -1
        for item in items:
            if item.qos == 0:
                continue
            if item.generation == generation:
                self._client.ack(item.mid, item.qos)
                count += 1
            else:
                stale.append(item)
        if stale:
            self._not_acked(stale)
        return count

    def _not_acked(self, stale: list[Inbound]) -> None:
        self._buffer.not_acked(stale)
        first = min(item.generation for item in stale)
        if first > self._stale_logged:
            self._stale_logged = max(item.generation for item in stale)
            logger.warning(
                "%d committed messages arrived on a broker connection that is gone: not acknowledged, "
                "the broker delivers them again and they are stored once (logged once per connection)",
                len(stale),
            )

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            logger.warning("broker %s refused the connection: %s", self._endpoint.redacted, reason)
            return
        with self._lock:
            self._generation += 1
            self.connected = True
            self.subscribed = False
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE)
        topics = [(topic, options) for topic in [*self._shared, *self._plain]]
        client.subscribe(topics)
        logger.info(
            "connected to %s (session present: %s), subscribed to %d topic filters",
            self._endpoint.redacted,
            flags.session_present,
            len(topics),
        )

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, _reasons: Any, _props: Any) -> None:
        self.subscribed = True

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        with self._lock:
            was_connected, self.connected = self.connected, False
        if was_connected:
            logger.warning("lost broker %s (%s); reconnecting", self._endpoint.redacted, reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = message.payload
        item = Inbound(
            message.topic,
            payload if isinstance(payload, bytes) else bytes(payload),
            message.mid,
            message.qos,
            self._generation,
            utc_now(),
            time.monotonic(),
        )
        if not self._buffer.put(item) and not self._dropped_logged:
            self._dropped_logged = True
            logger.info(
                "stopping: messages still arriving are left unacknowledged for the broker to deliver "
                "again (counted in ioc_ingest_dropped_total)"
            )
