"""Alert state for responders' apps: retained JSON on `<topic>/<alert_id>` (default `<prefix>/alerts`).

One paho client with its own network thread; `publish` is thread-safe and only queues, bounded
well below MQTT's 65,535 packet ids. A full queue drops the message and counts it (the dashboard
and the database still have the change).
"""

from __future__ import annotations

import logging

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract.config.channels import MqttChannel
from contract.mqtturl import parse_mqtt_url
from server.alerts.model import AlertChange

logger = logging.getLogger(__name__)

MAX_QUEUED = 10_000


class MqttNotifier:
    def __init__(self, channel: MqttChannel, broker_url: str, prefix: str, client_id: str) -> None:
        self.channel_id = channel.id
        self.topic = (channel.topic or f"{prefix}/alerts").rstrip("/")
        self.qos = channel.qos
        self._endpoint = parse_mqtt_url(broker_url)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id[:64], protocol=mqtt.MQTTv5)
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        if self._endpoint.username:
            self._client.username_pw_set(self._endpoint.username, self._endpoint.password)
        if self._endpoint.tls:
            self._client.tls_set()
        self.published = 0
        self.dropped = 0
        self.connected = False

    def topic_for(self, alert_id: str) -> str:
        return f"{self.topic}/{alert_id}"

    async def start(self) -> None:
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30)
        self._client.loop_start()

    async def deliver(self, change: AlertChange) -> None:
        info = self._client.publish(
            self.topic_for(change.payload.id), change.payload.to_json(), qos=self.qos, retain=True
        )
        if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            self.published += 1  # NO_CONN: queued, sent after reconnect
            return
        self.dropped += 1
        logger.error("mqtt channel %s: alert %s not queued (rc %s)", self.channel_id, change.payload.id, info.rc)

    async def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

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
