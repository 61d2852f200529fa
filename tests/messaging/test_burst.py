"""A 2,000,000-reading gateway backlog on the jetstream transport (40,000 messages of 50
readings published natively while no server runs): drained with every reading stored exactly
once, no stall, nothing dead-lettered; the consumer ends with nothing pending or unacknowledged.
Slow: about 25 s to publish and 75 s to drain (27,000 readings/s) on the shared 2-core box."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ioc.natsnode import NatsNode
from tests.messaging.helpers import Message, NativePublisher, jetstream_settings
from tests.messaging.test_poison_and_outage import consumer_state
from tests.server.helpers import count_rows, running_app, wait_until, write_streams

PER_MESSAGE = 50
MESSAGES = 40_000
TOTAL = PER_MESSAGE * MESSAGES
DRAIN_LIMIT_S = 90


def gateway_messages(prefix: str, base: datetime) -> list[Message]:
    topic = f"{prefix}/gateways/gw-burst"
    messages: list[Message] = []
    for m in range(MESSAGES):
        readings = [
            {"sensor": "sal-1", "value": (n % 400) / 10, "ts": (base + timedelta(seconds=n)).isoformat()}
            for n in range(m * PER_MESSAGE, (m + 1) * PER_MESSAGE)
        ]
        messages.append((topic, json.dumps({"v": 1, "readings": readings}).encode(), f"gw-burst:{m}"))
    return messages


@pytest.mark.slow
async def test_a_two_million_reading_backlog_is_stored_exactly_once(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    streams = write_streams(tmp_path, topic_prefix)
    settings = jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, streams, ingest_stall_after_s=30)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=TOTAL) - timedelta(days=1)
    async with running_app(settings):
        pass  # stream IOC and the durable consumer exist from now on
    async with NativePublisher([nats_node.url], window=256) as publisher:
        await publisher.publish_all(gateway_messages(topic_prefix, base), timeout=120)

    started = time.monotonic()
    stalled = False
    async with running_app(settings) as client:

        async def drained() -> bool:
            nonlocal stalled
            stalled = stalled or (await client.get("/health")).json()["ingest"] == "stalled"
            return await count_rows(pg_database, "SELECT count(*) FROM readings") >= TOTAL

        await wait_until(drained, DRAIN_LIMIT_S, f"{TOTAL} readings")
        elapsed = time.monotonic() - started

        async def settled() -> bool:
            return (await consumer_state(nats_node.url))[::2] == (0, 0)

        await wait_until(settled, 10, "the consumer fully acknowledged")
    assert await count_rows(pg_database, "SELECT count(*) FROM readings") == TOTAL
    assert await count_rows(pg_database, "SELECT count(DISTINCT time) FROM readings") == TOTAL
    assert await count_rows(pg_database, "SELECT sum(count) FROM readings_1m") == TOTAL
    assert await count_rows(pg_database, "SELECT count(*) FROM dead_letters") == 0
    assert not stalled
    print(f"drained {TOTAL} readings in {elapsed:.1f} s ({TOTAL / elapsed:,.0f} readings/s)")
