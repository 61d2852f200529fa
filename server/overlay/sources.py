"""Where live detection frames come from: a plain (never shared) subscription on every replica.

Each replica's viewers need every frame of their cameras, so unlike the ingest this is no shared
group and no durable consumer: MQTT QoS 0 with a clean session (`mqtt` transport), or a core NATS
subscription outside the JetStream stream (`jetstream` transport). Both only hand messages to
`offer` (the live frames to `LiveFrameFeed.offer`; the edge workers' stats, which are as volatile, to
`EdgeStatsBoard.offer`); reconnecting is the client library's job (paho's loop, nats-py's reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract.jetstream import subject_of, topic_of
from contract.mqtturl import parse_mqtt_url
from contract.redact import redact_url
from server.settings import Settings

logger = logging.getLogger(__name__)


class FrameSource(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


Offer = Callable[[str, bytes], None]
"""(topic, payload), from any thread"""


class MqttFrameSource:
    def __init__(self, settings: Settings, topics: Sequence[str], offer: Offer) -> None:
        self._endpoint = parse_mqtt_url(settings.mqtt_url)
        self._topics = list(topics)
        self._offer = offer
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{settings.mqtt_client_id}-live", protocol=mqtt.MQTTv5
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        if self._endpoint.username:
            self._client.username_pw_set(self._endpoint.username, self._endpoint.password)
        if self._endpoint.tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    async def start(self) -> None:
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30, clean_start=True)
        self._client.loop_start()

    async def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            logger.warning("live detections: broker %s refused the connection: %s", self._endpoint.redacted, reason)
            return
        client.subscribe([(topic, 0) for topic in self._topics])
        logger.info("live detections: subscribed to %s on %s", ", ".join(self._topics), self._endpoint.redacted)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._offer(message.topic, bytes(message.payload))


class NatsFrameSource:
    def __init__(self, settings: Settings, topics: Sequence[str], offer: Offer, on_dropped: Callable[[], None]) -> None:
        self._servers = settings.nats_servers
        self._name = f"{settings.mqtt_client_id}-live"
        self._subjects = [subject_of(topic) for topic in topics]
        self._offer = offer
        self._on_dropped = on_dropped
        self._nc: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="overlay-nats")

    async def _connect(self) -> None:
        """Until connected and subscribed (nats-py reconnects by itself after that)."""
        import nats  # nats-py only where it is used

        delay, logged = 0.5, False
        while True:
            try:
                self._nc = await nats.connect(
                    servers=self._servers,
                    name=self._name,
                    connect_timeout=2,
                    reconnect_time_wait=0.5,
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                )
                for subject in self._subjects:
                    await self._nc.subscribe(subject, cb=self._on_message, pending_msgs_limit=1024)
            except Exception as exc:
                if not logged:
                    logger.warning("live detections: NATS %s unreachable (%s); retrying", self._redacted(), exc)
                    logged = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            logger.info("live detections: subscribed to %s on %s", ", ".join(self._subjects), self._redacted())
            return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._nc is not None:
            await self._nc.close()

    async def _on_message(self, msg: Any) -> None:
        self._offer(topic_of(msg.subject), bytes(msg.data))

    async def _on_error(self, exc: Exception) -> None:
        import nats.errors

        if isinstance(exc, nats.errors.SlowConsumerError):  # nats-py dropped a message for us
            self._on_dropped()
            return
        logger.warning("live detections: NATS %s: %s", self._redacted(), exc)

    def _redacted(self) -> str:
        return ",".join(redact_url(url) for url in self._servers)


def frame_source(
    settings: Settings, topics: Sequence[str], offer: Offer, on_dropped: Callable[[], None]
) -> FrameSource:
    """`on_dropped`: a message the client library itself dropped (nats-py's slow-consumer limit)."""
    if settings.transport == "jetstream":
        return NatsFrameSource(settings, topics, offer, on_dropped)
    return MqttFrameSource(settings, topics, offer)
