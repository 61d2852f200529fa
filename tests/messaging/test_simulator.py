"""`ioc simulate` / the demo on the jetstream transport: readings published natively with
`Nats-Msg-Id` = the reading id are stored, and a resend of the same readings is dropped by the
stream itself (its duplicate window), before any database work."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats

from contract.config.loader import load_config
from contract.jetstream import STREAM_NAME
from contract.mqtturl import parse_mqtt_url
from ioc.natsnode import NatsNode
from ioc.sim.publisher import SensorSimulator
from ioc.sim.sinks import JetStreamSink
from tests.messaging.helpers import jetstream_settings, wait_rows
from tests.server.helpers import count_rows, running_app, wait_until, write_streams


async def stream_messages(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(STREAM_NAME)).state.messages)
    finally:
        await nc.close()


async def test_native_simulator_readings_are_stored_once(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    streams = write_streams(tmp_path, topic_prefix)
    settings = jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, streams)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    sink = JetStreamSink([nats_node.url], "test-sim")
    simulator = SensorSimulator(load_config(streams), parse_mqtt_url(nats_node.mqtt_url), clock=lambda: at, sink=sink)
    async with running_app(settings):
        sink.start()
        try:
            deadline = time.monotonic() + 10
            while not sink.connected() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            sensors = len(simulator.sensors)
            assert simulator.publish_once() == sensors
            assert simulator.publish_once() == sensors  # the same readings again: a resend

            async def acked() -> bool:
                return sink.acked == 2 * sensors

            await wait_until(acked, 15, "every publish acknowledged by the stream")
            await wait_rows(pg_database, sensors, 30)
            await asyncio.sleep(0.5)
            assert await count_rows(pg_database, "SELECT count(*) FROM readings") == sensors
            assert await stream_messages(nats_node.url) == sensors  # the resend never entered the stream
            assert sink.failed == 0
        finally:
            sink.stop()
