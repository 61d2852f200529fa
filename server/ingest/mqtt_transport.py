"""The `mqtt` transport: the paho subscriber (`mqtt.py`) and its buffer behind `IngestTransport`.

Data topics go through the MQTT 5 shared-subscription group when one is set; retained status
topics never do (every replica needs them). `terminate` is a PUBACK like `ack` (MQTT has no
negative acknowledgement); `retry_later` puts the messages back at the head of the inbox: they
are still unacknowledged on their connection.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from contract.config import StreamsConfig
from contract.mqtturl import parse_mqtt_url
from server.ingest.buffer import Inbound, InboundBuffer
from server.ingest.mqtt import MqttSubscriber
from server.ingest.transport import Delivery
from server.metrics import Metrics
from server.settings import Settings


def shared_topic(group: str | None, topic: str) -> str:
    return f"$share/{group}/{topic}" if group else topic


def shared_group(settings: Settings, config: StreamsConfig) -> str | None:
    override = settings.mqtt_shared_group
    return config.mqtt.shared_group if override is None else (override or None)  # "" turns it off


def split_topics(group: str | None, topics: Sequence[str]) -> tuple[list[str], list[str]]:
    """(shared, plain): data topics go through the shared group; retained status topics do not."""
    shared = [shared_topic(group, t) for t in topics if not t.endswith("/status")]
    plain = [t for t in topics if t.endswith("/status")]
    return shared, plain


class RetryInbox:
    """The subscriber's buffer, with messages handed back by `retry_later` taken first."""

    def __init__(self, buffer: InboundBuffer) -> None:
        self.buffer = buffer
        self._retry: deque[Inbound] = deque()

    def __len__(self) -> int:
        return len(self._retry) + len(self.buffer)

    def put_back(self, items: Sequence[Inbound]) -> None:
        self._retry.extendleft(reversed(items))

    async def wait(self, timeout: float | None = None) -> bool:
        return bool(self._retry) or await self.buffer.wait(timeout)

    def take(self, limit: int) -> list[Inbound]:
        items: list[Inbound] = []
        while self._retry and len(items) < limit:
            items.append(self._retry.popleft())
        if len(items) < limit:
            items.extend(self.buffer.take(limit - len(items)))
        return items


class MqttTransport:
    name = "mqtt"

    def __init__(self, settings: Settings, config: StreamsConfig, topics: Sequence[str], metrics: Metrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._group = shared_group(settings, config)
        self._topics = list(topics)
        self._inbox: RetryInbox | None = None
        self._subscriber: MqttSubscriber | None = None

    @property
    def inbox(self) -> RetryInbox:
        assert self._inbox is not None, "start() first"
        return self._inbox

    @property
    def connected(self) -> bool:
        return self._subscriber is not None and self._subscriber.connected

    @property
    def ready(self) -> bool:
        return self._subscriber is not None and self._subscriber.connected and self._subscriber.subscribed

    @property
    def dropped(self) -> int:
        return self._inbox.buffer.dropped if self._inbox is not None else 0

    def reconfigure(self, config: StreamsConfig) -> None:
        self._group = shared_group(self._settings, config)

    async def start(self) -> None:
        settings = self._settings
        buffer = InboundBuffer(
            asyncio.get_running_loop(), capacity=2 * settings.mqtt_receive_maximum + 1000, metrics=self._metrics
        )
        self._inbox = RetryInbox(buffer)
        shared, plain = split_topics(self._group, self._topics)
        self._subscriber = MqttSubscriber(
            parse_mqtt_url(settings.mqtt_url),
            settings.mqtt_client_id,
            shared,
            plain,
            buffer,
            settings.mqtt_receive_maximum,
            settings.mqtt_session_expiry_s,
        )
        self._subscriber.start()

    async def stop(self) -> None:
        if self._subscriber is not None:
            self._subscriber.stop()

    async def set_topics(self, topics: Sequence[str]) -> None:
        self._topics = list(topics)
        if self._subscriber is not None:
            self._subscriber.set_topics(*split_topics(self._group, self._topics))

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if self._subscriber is not None:
            self._subscriber.ack(_inbound(deliveries))

    async def terminate(self, deliveries: Sequence[Delivery]) -> None:
        await self.ack(deliveries)

    async def retry_later(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        if self._inbox is not None:
            self._inbox.put_back(_inbound(deliveries))
        return []


def _inbound(deliveries: Sequence[Delivery]) -> list[Inbound]:
    return [item for item in deliveries if isinstance(item, Inbound)]
