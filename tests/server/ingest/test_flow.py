"""Flow control on the MQTT path, against a private Mosquitto: the broker is never trusted to
honour Receive Maximum. A full inbound buffer pauses paho's network thread (TCP back-pressure)
instead of refusing messages; nothing is lost or left unacknowledged, each pause is counted, and
stopping while the thread waits neither hangs nor loses anything (the broker redelivers)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from prometheus_client import generate_latest

from contract.mqtturl import MqttEndpoint
from server.ingest.buffer import InboundBuffer
from server.ingest.mqtt import MqttSubscriber
from server.metrics import Metrics
from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import Publisher, wait_until

TOTAL = 3000
CAPACITY = 20  # far below what the broker sends: Receive Maximum is 1,000 here


def _subscriber(broker: MosquittoBroker, buffer: InboundBuffer, topic: str, client_id: str) -> MqttSubscriber:
    return MqttSubscriber(
        MqttEndpoint(broker.host, broker.port), client_id, [topic], [], buffer, receive_maximum=1000,
        session_expiry_s=600,
    )  # fmt: skip


def _metric(metrics: Metrics, name: str) -> float:
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


async def _drain(buffer: InboundBuffer, subscriber: MqttSubscriber, total: int, timeout: float) -> list[int]:
    """Take, then ack (as the writer does after a commit) until `total` messages came."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while len(seen) < total:
        assert time.monotonic() < deadline, f"stalled after {len(seen)} of {total} messages"
        if not await buffer.wait(1.0):
            continue
        items = buffer.take(7)
        seen.extend(json.loads(item.payload)["i"] for item in items)
        subscriber.ack(items)
    return seen


async def test_a_full_buffer_pauses_reading_and_nothing_is_lost(private_broker: MosquittoBroker) -> None:
    topic = f"flow-{uuid.uuid4().hex[:8]}/sensors/s"
    metrics = Metrics()
    buffer = InboundBuffer(asyncio.get_running_loop(), CAPACITY, metrics)
    subscriber = _subscriber(private_broker, buffer, topic, f"flow-{uuid.uuid4().hex[:8]}")
    publisher = Publisher(private_broker.host, private_broker.port)
    subscriber.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, subscriber.subscribed), 10, "subscription")
        await asyncio.to_thread(publisher.publish_all, [(topic, json.dumps({"i": i})) for i in range(TOTAL)])
        await asyncio.sleep(0.5)  # nobody drains: the network thread waits, the broker holds the rest
        assert len(buffer) == CAPACITY
        assert buffer.backpressure and buffer.pauses >= 1
        seen = await _drain(buffer, subscriber, TOTAL, timeout=60)
        await asyncio.sleep(0.3)
        assert len(buffer) == 0 and not buffer.backpressure  # emptied: back-pressure off (and logged)
    finally:
        subscriber.stop()
        publisher.close()
    assert seen == list(range(TOTAL))  # all, once, in order: none refused, none redelivered
    assert _metric(metrics, "ioc_ingest_backpressure_pauses_total") >= 1
    assert _metric(metrics, "ioc_ingest_backpressure_seconds_total") > 0.4
    assert _metric(metrics, "ioc_ingest_dropped_total") == 0
    assert _metric(metrics, "ioc_ingest_unacked_total") == 0


async def test_stopping_while_the_reader_waits_neither_hangs_nor_loses(private_broker: MosquittoBroker) -> None:
    topic = f"flow-{uuid.uuid4().hex[:8]}/sensors/s"
    client_id = f"flow-{uuid.uuid4().hex[:8]}"
    metrics = Metrics()
    loop = asyncio.get_running_loop()
    buffer = InboundBuffer(loop, CAPACITY, metrics)
    subscriber = _subscriber(private_broker, buffer, topic, client_id)
    publisher = Publisher(private_broker.host, private_broker.port)
    subscriber.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, subscriber.subscribed), 10, "subscription")
        await asyncio.to_thread(publisher.publish_all, [(topic, json.dumps({"i": i})) for i in range(500)])
        await wait_until(lambda: asyncio.sleep(0, buffer.backpressure), 10, "back-pressure")
        started = time.monotonic()
        await asyncio.to_thread(subscriber.stop)  # the network thread is blocked in put()
        assert time.monotonic() - started < 5
        assert _metric(metrics, "ioc_ingest_dropped_total") >= 1  # the message it held, let go unacked

        # The same session again: every message comes back (none was acknowledged), none lost.
        second = InboundBuffer(loop, 10_000, Metrics())
        again = _subscriber(private_broker, second, topic, client_id)
        again.start()
        try:
            seen = await _drain(second, again, 500, timeout=30)
        finally:
            again.stop()
    finally:
        publisher.close()
    assert sorted(set(seen)) == list(range(500))
