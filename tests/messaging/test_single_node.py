"""JetStream transport through one NATS node: native and MQTT publishers, faults mid-stream.

Every reading ends as exactly one row: the stream de-duplicates native resends (Nats-Msg-Id),
the durable consumer redelivers what was not acknowledged, and rows are idempotent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ioc.natsnode import NatsNode
from tests.messaging.helpers import (
    NativePublisher,
    assert_exactly_once,
    jetstream_settings,
    mqtt_in_thread,
    readings,
    wait_rows,
)
from tests.server.helpers import running_app, write_streams

NATIVE = 3000
MQTT = 2000


async def test_node_killed_mid_stream_native_and_mqtt(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    streams = write_streams(tmp_path, topic_prefix)
    settings = jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, streams)
    native = readings(topic_prefix, NATIVE)
    mqtt = [(topic, payload) for topic, payload, _ in readings(topic_prefix, MQTT, start=50_000)]
    async with running_app(settings) as client:
        assert (await client.get("/health")).json()["transport"] == "jetstream"
        thread, errors = mqtt_in_thread(nats_node, mqtt, timeout=90)
        async with NativePublisher([nats_node.url]) as publisher:
            publishing = asyncio.create_task(publisher.publish_all(native))
            await wait_rows(pg_database, 1000, 30)
            nats_node.kill()
            await asyncio.sleep(1.0)
            assert (await client.get("/health")).json()["mqtt"] == "disconnected"
            nats_node.start()
            await publishing
        await asyncio.to_thread(thread.join, 90)
        assert not errors, errors
        await wait_rows(pg_database, NATIVE + MQTT, 60)
        await assert_exactly_once(pg_database, NATIVE + MQTT)
        assert publisher.acked == NATIVE
        health = await client.get("/health")
        assert health.status_code == 200, health.json()
        assert health.json()["ingest"] == "running"
