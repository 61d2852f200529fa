"""MQTT link (paho): one fresh client per connection, events at QoS 1 in windows, statuses retained.

The client never reconnects by itself and keeps no session on the broker (clean start): when the
connection drops, the session ends and the sender opens a new one, re-sending from the spool what
the broker did not acknowledge. So nothing lives in paho's queue across outages (MQTT.md: its
16-bit packet ids wrap), and the only duplicates are the messages in flight when the link dropped,
which QoS 1 allows. Acknowledgements are counted from `on_publish` (PUBACK), never from
`MQTTMessageInfo.is_published()`, which raises once the connection is gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from contract.mqttclient import MqttProtocol, make_client
from contract.mqtturl import MqttEndpoint
from edge.publish.link import LinkError, LinkRejectedError
from edge.publish.spool import SpooledMessage

logger = logging.getLogger(__name__)

_NETWORK_TICK_S = 0.05


@dataclass(frozen=True)
class MqttLinkOptions:
    client_id: str
    will_topic: str
    will_payload: bytes
    protocol: MqttProtocol = "5"
    keepalive: int = 5  # a silent broker (frozen, cable cut) is noticed within 1.5 x this


class MqttLink:
    def __init__(self, endpoint: MqttEndpoint, options: MqttLinkOptions, window: int) -> None:
        self._endpoint = endpoint
        self._options = options
        self._window = window

    @property
    def name(self) -> str:
        return f"mqtt {self._endpoint.redacted}"

    def open(self, timeout: float) -> MqttSession:
        session = MqttSession(self._make_client(), self._window)
        session.connect(self._endpoint, self._options.keepalive, timeout)
        return session

    def _make_client(self) -> mqtt.Client:
        options = self._options
        client = make_client(self._endpoint, options.client_id, protocol=options.protocol, clean_session=True)
        client.max_inflight_messages_set(self._window)
        client.max_queued_messages_set(self._window * 2 + 64)
        client.will_set(options.will_topic, options.will_payload, qos=1, retain=True)
        return client


class MqttSession:
    """One connection. A private network thread runs `client.loop()` until the link is lost."""

    def __init__(self, client: mqtt.Client, window: int) -> None:
        self._client = client
        self._window = window
        self._acked: set[int] = set()
        self._changed = threading.Condition()
        self._connected = threading.Event()
        self._lost: str | None = None
        self._refused: str | None = None
        self._closing = threading.Event()
        self._network = threading.Thread(target=self._network_loop, name="mqtt-network", daemon=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish

    @property
    def lost(self) -> str | None:
        return self._lost

    def connect(self, endpoint: MqttEndpoint, keepalive: int, timeout: float) -> None:
        self._client.connect_timeout = timeout
        try:
            self._client.connect(endpoint.host, endpoint.port, keepalive=keepalive)
        except (OSError, ValueError) as exc:
            raise LinkError(f"cannot connect: {type(exc).__name__}: {exc}") from None
        self._network.start()
        if not self._connected.wait(timeout) or self._lost:
            reason = self._refused or self._lost or "no CONNACK in time"
            self._shutdown()
            raise (LinkRejectedError if self._refused else LinkError)(reason)

    def send(self, messages: Sequence[SpooledMessage], timeout: float) -> list[int]:
        with self._changed:
            self._acked.clear()
        sent: dict[int, int] = {}  # mid -> seq
        for message in messages:
            info = self._client.publish(message.topic, message.payload, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._mark_lost(f"publish refused: {mqtt.error_string(info.rc)}")
                break
            sent[info.mid] = message.seq
        acked = self._wait_acks(set(sent), timeout)
        return [seq for mid, seq in sent.items() if mid in acked]

    def _wait_acks(self, mids: set[int], timeout: float) -> set[int]:
        progress_at, seen = time.monotonic(), 0
        with self._changed:
            while not mids <= self._acked and self._lost is None:
                if len(self._acked) != seen:
                    progress_at, seen = time.monotonic(), len(self._acked)
                left = progress_at + timeout - time.monotonic()
                if left <= 0:
                    self._mark_lost_locked(f"no acknowledgement for {timeout:.0f} s")
                    break
                self._changed.wait(min(left, 0.5))
            return self._acked & mids

    def publish_retained(self, topic: str, payload: bytes) -> None:
        if self._lost is None:
            self._client.publish(topic, payload, qos=1, retain=True)

    def publish_volatile(self, topic: str, payload: bytes) -> bool:
        if self._lost is not None:
            return False
        return self._client.publish(topic, payload, qos=0).rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish_live(self, topic: str, payload: bytes) -> bool:
        # want_write(): paho still holds outgoing packets (an event window being written, a slow or
        # frozen broker): drop this one rather than queue it behind or in front of the events
        if self._lost is not None or self._client.want_write():
            return False
        return self._client.publish(topic, payload, qos=0).rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def close(self, final: Sequence[tuple[str, bytes]], timeout: float) -> None:
        if self._lost is None and final:
            with self._changed:
                self._acked.clear()
            mids = {self._client.publish(t, p, qos=1, retain=True).mid for t, p in final}
            self._wait_acks(mids, timeout)
        if self._lost is None:
            self._client.disconnect()  # the network thread writes DISCONNECT, closes the socket and ends
            self._network.join(2)
        self._shutdown()

    def _shutdown(self) -> None:
        self._closing.set()
        if self._network.is_alive():
            self._network.join(5)
        self._client._sock_close()  # a frozen broker never read our DISCONNECT: drop the socket anyway

    def _network_loop(self) -> None:
        try:
            while not self._closing.is_set():
                rc = self._client.loop(timeout=_NETWORK_TICK_S)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._mark_lost(f"connection lost: {mqtt.error_string(rc)}")
                    return
        except Exception as exc:  # paho raised from its own loop: end this session, the sender opens another
            self._mark_lost(f"network loop failed: {type(exc).__name__}: {exc}")

    def _mark_lost(self, reason: str) -> None:
        with self._changed:
            self._mark_lost_locked(reason)

    def _mark_lost_locked(self, reason: str) -> None:
        if self._lost is None:
            self._lost = reason
        self._changed.notify_all()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._refused = f"the broker refused the connection: {reason}"
            self._mark_lost(self._refused)
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._mark_lost(f"disconnected: {reason}")
        self._connected.set()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._changed:
            self._acked.add(mid)
            self._changed.notify_all()
