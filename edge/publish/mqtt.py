"""MQTT 5 publisher (paho): events drained in order from the spool at QoS 1, retained status
messages re-sent on every reconnect, a last will for the worker, stats at QoS 0.

paho's own queue is bounded far below the 65,535 packet ids (MQTT.md: an unbounded queue loses
messages silently); a spooled event is deleted only once `is_published()` says the broker has it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from contract.mqtturl import MqttEndpoint
from edge.publish.spool import EventSpool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublisherOptions:
    client_id: str
    will_topic: str
    will_payload: bytes
    window: int = 100  # events in flight at once; paho's queue is bounded to a few times this
    keepalive: int = 15
    reconnect_max_s: int = 10


class MqttPublisher:
    def __init__(self, endpoint: MqttEndpoint, spool: EventSpool, options: PublisherOptions) -> None:
        self._endpoint = endpoint
        self._spool = spool
        self._options = options
        self._client = self._make_client()
        self._connected = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._retained: dict[str, bytes] = {}
        self._retained_lock = threading.Lock()
        self._inflight: deque[tuple[int, mqtt.MQTTMessageInfo]] = deque()
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)
        self._ever_connected = False
        self.queue_full = 0

    def _make_client(self) -> mqtt.Client:
        options = self._options
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=options.client_id, protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(options.window)
        client.max_queued_messages_set(options.window * 4 + 256)
        client.reconnect_delay_set(min_delay=1, max_delay=options.reconnect_max_s)
        client.will_set(options.will_topic, options.will_payload, qos=1, retain=True)
        if self._endpoint.username:
            client.username_pw_set(self._endpoint.username, self._endpoint.password)
        if self._endpoint.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        logger.info("mqtt: connecting to %s as %s", self._endpoint.redacted, self._options.client_id)
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=self._options.keepalive)
        self._client.loop_start()
        self._sender.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, final: list[tuple[str, bytes]], drain_s: float = 5.0) -> None:
        """Send what is spooled (for up to `drain_s`), then the final retained messages, then leave."""
        self._drain(drain_s)
        self._stop.set()
        self._wake.set()
        self._sender.join(5)
        infos = [self._client.publish(topic, payload, qos=1, retain=True) for topic, payload in final]
        for info in infos:
            if self.connected and info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                info.wait_for_publish(2.0)
        self._client.disconnect()
        self._client.loop_stop()

    def _drain(self, timeout: float) -> None:
        deadline = threading.Event()
        waited = 0.0
        while self.connected and (self._spool.depth > 0 or self._inflight) and waited < timeout:
            deadline.wait(0.05)
            waited += 0.05

    def set_retained(self, topic: str, payload: bytes) -> None:
        """Publish a retained status now if connected, and again after every reconnect."""
        with self._retained_lock:
            self._retained[topic] = payload
        if self.connected:
            self._publish_status(topic, payload)

    def publish_volatile(self, topic: str, payload: bytes) -> bool:
        """QoS 0, only while connected (stats: a missed one is replaced by the next)."""
        if not self.connected:
            return False
        return self._client.publish(topic, payload, qos=0).rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def enqueue_event(self, topic: str, payload: bytes) -> None:
        dropped = self._spool.append(topic, payload)
        if dropped:
            logger.warning("mqtt: spool full, dropped the %d oldest event(s)", dropped)
        self._wake.set()

    def _publish_status(self, topic: str, payload: bytes) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=True)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            self.queue_full += 1
            logger.warning("mqtt: client queue full, status on %s will be re-sent on reconnect", topic)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            logger.warning("mqtt: broker %s refused the connection: %s", self._endpoint.redacted, reason)
            return
        if self._ever_connected:
            logger.info("mqtt: reconnected to %s", self._endpoint.redacted)
        else:
            logger.info("mqtt: connected to %s", self._endpoint.redacted)
        self._ever_connected = True
        self._connected.set()
        with self._retained_lock:
            retained = list(self._retained.items())
        for topic, payload in retained:
            self._publish_status(topic, payload)
        self._wake.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._connected.is_set():
            logger.warning("mqtt: lost the broker %s (%s); spooling events", self._endpoint.redacted, reason)
        self._connected.clear()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._wake.set()

    def _send_loop(self) -> None:
        last_seq = 0
        while not self._stop.is_set():
            self._reap()
            if self.connected and len(self._inflight) < self._options.window:
                last_seq = self._send_more(last_seq)
            self._wake.wait(0.05 if self._inflight else 0.5)
            self._wake.clear()

    def _reap(self) -> None:
        while self._inflight and self._inflight[0][1].is_published():
            seq, _ = self._inflight.popleft()
            self._spool.delete(seq)

    def _send_more(self, last_seq: int) -> int:
        for message in self._spool.read_after(last_seq, self._options.window - len(self._inflight)):
            info = self._client.publish(message.topic, message.payload, qos=1)
            if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                self.queue_full += 1
                break
            # NO_CONN: paho keeps a QoS 1 message and sends it after the reconnect, in order
            self._inflight.append((message.seq, info))
            last_seq = message.seq
        return last_seq
