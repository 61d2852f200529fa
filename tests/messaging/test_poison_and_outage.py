"""JetStream path: poison messages are dead letters (terminated, never redelivered) and ingest goes
on; the database away for longer than ack_wait loses nothing and /health says ingest stalled."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import nats

from contract.jetstream import INGEST_DURABLE, STREAM_NAME
from ioc.natsnode import NatsNode
from tests.fixtures.poison import CORPUS
from tests.fixtures.tcp_proxy import TcpProxy
from tests.messaging.helpers import NativePublisher, assert_exactly_once, jetstream_settings, readings, wait_rows
from tests.server.helpers import Publisher, count_rows, running_app, wait_until, write_streams

DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


def poison(prefix: str) -> list[tuple[str, bytes]]:
    """Deep JSON on every kind of subscribed topic, random bytes, a 1 MB payload."""
    return [
        (f"{prefix}/sensors/sal-1", DEEP),
        (f"{prefix}/sensors/sal-1", DEEP_OBJECT),
        (f"{prefix}/gateways/gw-1", DEEP_OBJECT),
        (f"{prefix}/sensors/level", DEEP_OBJECT),  # a JSON-path sensor
        (f"{prefix}-ext/stations/wq", DEEP),  # a FIWARE sensor's own topic
        (f"{prefix}/cameras/gate/events", DEEP_OBJECT),
        (f"{prefix}/sensors/sal-1", os.urandom(512)),
        (f"{prefix}/gateways/gw-1", b"{" + b" " * 1_000_000 + b"}"),
    ]


async def consumer_state(url: str) -> tuple[int, int, int]:
    """(ack pending, redelivered, waiting to be delivered) of the ingest consumer."""
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(STREAM_NAME, INGEST_DURABLE)
        return info.num_ack_pending or 0, info.num_redelivered or 0, info.num_pending or 0
    finally:
        await nc.close()


async def test_poison_is_dead_lettered_and_terminated(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    settings = jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, write_streams(tmp_path, topic_prefix))
    bad = poison(topic_prefix)
    async with running_app(settings) as client:
        async with NativePublisher([nats_node.url]) as publisher:
            await publisher.publish_all([(topic, payload, f"p{i}") for i, (topic, payload) in enumerate(bad)])
        mqtt = Publisher("127.0.0.1", nats_node.mqtt_port)
        try:  # a retained poison through the MQTT listener, then a valid reading after everything
            mqtt.publish_all([(f"{topic_prefix}/sensors/sal-1", DEEP_OBJECT)])
            mqtt.client.publish(f"{topic_prefix}/sensors/rain", b"[" * 5000, qos=1, retain=True).wait_for_publish(5)
            mqtt.publish_all([(topic, payload) for topic, payload, _ in readings(topic_prefix, 1)])
        finally:
            mqtt.close()
        await wait_rows(pg_database, 1, 30)
        await wait_rows(pg_database, len(bad) + 2, 30, "SELECT count(*) FROM dead_letters")
        reasons = await count_rows(pg_database, "SELECT count(*) FROM dead_letters WHERE reason <> ''")
        assert reasons == await count_rows(pg_database, "SELECT count(*) FROM dead_letters")

        async def settled() -> bool:
            return (await consumer_state(nats_node.url))[::2] == (0, 0)

        await wait_until(settled, 10, "every poison message terminated")
        assert (await consumer_state(nats_node.url))[1] == 0  # none was delivered twice
        metrics = (await client.get("/metrics")).text
        assert f'ioc_ingest_settled_total{{outcome="terminate"}} {len(bad) + 2}.0' in metrics
        health = await client.get("/health")
        assert health.status_code == 200, health.json()


async def test_database_away_longer_than_ack_wait(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    proxy = TcpProxy.for_url(pg_database)
    proxy.start()
    streams = write_streams(tmp_path, topic_prefix)
    settings = jetstream_settings(proxy.url_through(pg_database), nats_node.url, nats_node.mqtt_url, streams)
    first, second = readings(topic_prefix, 1500), readings(topic_prefix, 1500, start=1500)
    try:
        async with running_app(settings) as client, NativePublisher([nats_node.url]) as publisher:
            await publisher.publish_all(first)
            await wait_rows(pg_database, 1500, 30)
            proxy.stop()
            await publisher.publish_all(second)  # the stream keeps them while the database is away

            async def stalled() -> bool:
                body = (await client.get("/health")).json()
                return body["ingest"] == "stalled"

            await wait_until(stalled, 15, "/health to say ingest stalled")
            response = await client.get("/health")
            assert response.status_code == 503
            assert response.json()["pending_messages"] > 0
            await asyncio.sleep(settings.nats_ack_wait_s * 1.5)  # longer than ack_wait: in_progress holds them
            proxy.start()
            await wait_rows(pg_database, 3000, 60)
            await assert_exactly_once(pg_database, 3000)

            async def running() -> bool:
                return (await client.get("/health")).status_code == 200

            await wait_until(running, 10, "/health ok again")
            metrics = (await client.get("/metrics")).text
            assert "ioc_ingest_stalls_total 1.0" in metrics
            _, redelivered, _ = await consumer_state(nats_node.url)
            assert redelivered == 0  # held with in_progress, not handed out again
    finally:
        proxy.stop()


async def test_shared_poison_corpus_on_the_jetstream_path(
    pg_database: str, nats_node: NatsNode, topic_prefix: str, tmp_path: Path
) -> None:
    """Every poison of tests/fixtures/poison.py on four kinds of topic, published natively: each
    is a dead letter (with its expected reason where the corpus names one), none is redelivered."""
    settings = jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, write_streams(tmp_path, topic_prefix))
    topics = [
        f"{topic_prefix}/sensors/sal-1",
        f"{topic_prefix}/gateways/gw-1",
        f"{topic_prefix}/sensors/level",
        f"{topic_prefix}-ext/stations/wq",
    ]
    sent = [(topic, poison) for poison in CORPUS for topic in topics]
    async with running_app(settings) as client, NativePublisher([nats_node.url]) as publisher:
        await publisher.publish_all([(t, p.payload, f"x{i}") for i, (t, p) in enumerate(sent)])
        await publisher.publish_all(readings(topic_prefix, 1))
        await wait_rows(pg_database, 1, 30)
        await wait_rows(pg_database, len(sent), 30, "SELECT count(*) FROM dead_letters")
        for reason in ("too_deep", "too_large"):
            expected = sum(1 for _, poison in sent if poison.reason == reason)
            assert (
                await count_rows(pg_database, "SELECT count(*) FROM dead_letters WHERE reason = %s", reason) == expected
            )

        async def settled() -> bool:
            return (await consumer_state(nats_node.url))[::2] == (0, 0)

        await wait_until(settled, 10, "every poison message settled")
        assert (await consumer_state(nats_node.url))[1] == 0
        assert (await client.get("/health")).status_code == 200
