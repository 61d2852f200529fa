"""On the jetstream transport, alerts still reach responders over MQTT: the server's alert
publisher speaks MQTT 3.1.1 to NATS's MQTT listener (`IOC_MQTT_PROTOCOL`), its messages are
retained there, and a responder's app subscribing later gets each alert's current state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract.jetstream import reading_msg_id
from ioc.natsnode import NatsNode
from tests.messaging.helpers import NativePublisher, jetstream_settings
from tests.server.alerts.mqttwatch import retained
from tests.server.alerts.test_retained_clear import STREAMS
from tests.server.helpers import running_app, wait_until


@dataclass
class MqttListener:
    """host/port of the node's MQTT listener, as the retained-message watcher expects."""

    host: str
    port: int


async def test_alerts_are_retained_on_the_nats_mqtt_listener(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix, age="1h"))
    settings = jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, config)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    listener = MqttListener("127.0.0.1", nats_node.mqtt_port)
    async with running_app(settings) as client, NativePublisher([nats_node.url]) as publisher:
        messages = []
        for sensor, value, minute in [("sal-1", 5.0, 0), ("sal-2", 5.0, 0), ("sal-1", 1.0, 1)]:
            at = start + timedelta(minutes=minute)
            payload = json.dumps({"value": value, "ts": at.isoformat()}).encode()
            messages.append((f"{topic_prefix}/sensors/{sensor}", payload, reading_msg_id(sensor, at)))
        for message in messages:  # in order: sal-1 fires before it resolves
            await publisher.publish_all([message])

        async def both_retained() -> bool:
            return sorted((await retained(listener, f"{topic_prefix}/alerts/#")).values()) == ["firing", "resolved"]

        await wait_until(both_retained, timeout=30, what="a firing and a resolved alert retained on NATS")
        assert (await client.get("/health")).status_code == 200
