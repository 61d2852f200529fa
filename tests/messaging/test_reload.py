"""A streams.yaml edit on the jetstream transport: a sensor added with its own topic (outside the
prefix) widens stream IOC's subjects and the consumer's filter at once; its readings, published
natively or through the MQTT listener, are stored."""

from __future__ import annotations

import json
from pathlib import Path

import nats

from contract.jetstream import INGEST_DURABLE, STREAM_NAME, subject_of
from ioc.natsnode import NatsNode
from tests.messaging.helpers import NativePublisher, jetstream_settings
from tests.server.helpers import Publisher, count_rows, running_app, wait_until, write_streams
from tests.server.test_config_reload import NEW_SENSOR


async def filters(url: str) -> tuple[list[str], list[str]]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        stream = await js.stream_info(STREAM_NAME)
        consumer = await js.consumer_info(STREAM_NAME, INGEST_DURABLE)
        return list(stream.config.subjects or []), list(consumer.config.filter_subjects or [])
    finally:
        await nc.close()


async def test_a_sensor_added_live_is_ingested(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    streams = write_streams(tmp_path, topic_prefix)
    settings = jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, streams, config_reload_interval_s=0.2)
    new_topic = f"{topic_prefix}-ext/new-gauge"
    async with running_app(settings):
        assert subject_of(new_topic) not in (await filters(nats_node.url))[0]
        text = streams.read_text(encoding="utf-8")
        streams.write_text(text.replace("sensors:\n", "sensors:" + NEW_SENSOR.format(prefix=topic_prefix), 1))

        async def widened() -> bool:
            subjects, consumer = await filters(nats_node.url)
            return subject_of(new_topic) in subjects and subject_of(new_topic) in consumer

        await wait_until(widened, 15, "stream and consumer to take the new topic")
        async with NativePublisher([nats_node.url]) as publisher:
            await publisher.publish_all([(new_topic, b"1.25", "new-1")])
        mqtt = Publisher("127.0.0.1", nats_node.mqtt_port)
        try:
            mqtt.publish_all([(new_topic, json.dumps(2.5))])
        finally:
            mqtt.close()

        async def stored() -> bool:
            return await count_rows(pg_database, "SELECT count(*) FROM readings WHERE sensor_id = 'sal-new'") == 2

        await wait_until(stored, 15, "both readings of the new sensor")
