"""What a fresh MQTT subscriber sees retained under a topic filter (real broker, no mocks)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.services import MosquittoBroker


def retained_now(broker: MosquittoBroker, topic_filter: str, settle_s: float = 0.5) -> dict[str, str]:
    """Topic -> alert state of every retained message (a new subscriber gets only retained ones)."""
    got: dict[str, str] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:8]}")

    def on_message(_client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.retain and message.payload:
            got[message.topic] = json.loads(message.payload)["state"]

    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.subscribe(topic_filter, qos=1)
    client.loop_start()
    time.sleep(settle_s)
    client.loop_stop()
    client.disconnect()
    return got


async def retained(broker: MosquittoBroker, topic_filter: str) -> dict[str, str]:
    """`retained_now` off the event loop (a running app keeps serving meanwhile)."""
    return await asyncio.to_thread(retained_now, broker, topic_filter)
