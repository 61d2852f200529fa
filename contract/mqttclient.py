"""One MQTT client factory for every process: protocol, credentials, TLS and reconnect delays.

Every MQTT client of ours is built here, so a setting (TLS, MQTT 3.1.1 for NATS's listener) is
honoured everywhere at once. `protocol` is "5" (Mosquitto, EMQX) or "3.1.1" (NATS's MQTT
listener refuses MQTT 5).
"""

from __future__ import annotations

from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from contract.mqtturl import MqttEndpoint

MqttProtocol = Literal["5", "3.1.1"]

MAX_CLIENT_ID = 64

_PROTOCOLS: dict[str, MQTTProtocolVersion] = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}


def make_client(
    endpoint: MqttEndpoint,
    client_id: str = "",
    *,
    protocol: MqttProtocol = "5",
    manual_ack: bool = False,
    clean_session: bool | None = None,
    reconnect_min_s: int = 1,
    reconnect_max_s: int = 10,
) -> mqtt.Client:
    """A paho 2.x client (callback API v2) for `endpoint`; not connected yet.

    `clean_session` applies to MQTT 3.1.1 only (MQTT 5 sets `clean_start` at connect time).
    """
    version = _PROTOCOLS[protocol]
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id[:MAX_CLIENT_ID],
        clean_session=clean_session if version != mqtt.MQTTv5 else None,
        protocol=version,
        manual_ack=manual_ack,
    )
    client.reconnect_delay_set(min_delay=reconnect_min_s, max_delay=reconnect_max_s)
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set()
    return client


def is_mqtt5(client: mqtt.Client) -> bool:
    return bool(client.protocol == mqtt.MQTTv5)
