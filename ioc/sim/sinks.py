"""Where the simulator's readings go: an MQTT broker (QoS 1) or NATS JetStream natively.

A native publish carries `Nats-Msg-Id` = the reading's id (`reading_msg_id`): the stream's
acknowledgement is the replicated store's, and a resend after a lost connection is de-duplicated.
Both sinks are bounded: a reading they cannot take is refused (and counted by the simulator).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Protocol

import paho.mqtt.client as mqtt

from contract.jetstream import MSG_ID_HEADER, subject_of
from contract.mqttclient import MqttProtocol, make_client
from contract.mqtturl import MqttEndpoint
from contract.redact import redact_url

log = logging.getLogger(__name__)

MAX_QUEUED = 1000  # far below MQTT's 65,535 packet ids: a full queue is reported, never silent loss


class ReadingSink(Protocol):
    description: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes, msg_id: str) -> bool:
        """Queue one reading; False when the sink refuses it (full, or not accepted)."""


class MqttSink:
    def __init__(self, endpoint: MqttEndpoint, client_id: str, protocol: MqttProtocol = "5") -> None:
        self._endpoint = endpoint
        self._client = make_client(endpoint, client_id, protocol=protocol)
        self._client.max_queued_messages_set(MAX_QUEUED)
        self.description = endpoint.redacted

    def start(self) -> None:
        self._client.connect_async(self._endpoint.host, self._endpoint.port)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def connected(self) -> bool:
        return self._client.is_connected()

    def publish(self, topic: str, payload: bytes, msg_id: str) -> bool:
        return self._client.publish(topic, payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS


class JetStreamSink:
    """nats-py on its own event loop thread; each publish waits for the stream's PubAck there."""

    def __init__(self, servers: list[str], name: str) -> None:
        self._servers = servers
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sim-nats", daemon=True)
        self._nc: object | None = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self.acked = 0
        self.failed = 0
        self.description = ",".join(redact_url(url) for url in servers)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._connect(), self._loop)

    async def _connect(self) -> None:
        import nats

        self._nc = await nats.connect(
            servers=self._servers, name=self._name, max_reconnect_attempts=-1, reconnect_time_wait=1
        )

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        try:
            future.result(timeout=5)
        except (concurrent.futures.TimeoutError, Exception):
            log.warning("simulator: NATS connection did not close cleanly")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _close(self) -> None:
        from nats.aio.client import Client

        if isinstance(self._nc, Client):
            await self._nc.drain()

    def connected(self) -> bool:
        from nats.aio.client import Client

        return isinstance(self._nc, Client) and self._nc.is_connected

    def publish(self, topic: str, payload: bytes, msg_id: str) -> bool:
        with self._lock:
            if self._in_flight >= MAX_QUEUED:
                return False
            self._in_flight += 1
        asyncio.run_coroutine_threadsafe(self._publish(subject_of(topic), payload, msg_id), self._loop)
        return True

    async def _publish(self, subject: str, payload: bytes, msg_id: str) -> None:
        from nats.aio.client import Client

        try:
            assert isinstance(self._nc, Client)
            for attempt in range(5):  # the same id every time: a resend the stream already has is dropped
                try:
                    await self._nc.jetstream(timeout=5).publish(subject, payload, headers={MSG_ID_HEADER: msg_id})
                    self.acked += 1
                    return
                except Exception as exc:
                    if attempt == 0:
                        log.warning("simulator: publish to %s failed (%s); resending", subject, type(exc).__name__)
                    await asyncio.sleep(1)
            self.failed += 1
        finally:
            with self._lock:
                self._in_flight -= 1
