"""The spool sender survives a flapping uplink and a broker killed during replay (real Mosquitto).

Every event is delivered, the spool ends empty, the sender thread is alive, and duplicates stay
within what QoS 1 allows (the messages in flight when a link dropped, counted as `resent`).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.mqtturl import parse_mqtt_url
from edge.publish.mqtt import MqttLink, MqttLinkOptions
from edge.publish.sender import EventPublisher, SenderOptions
from edge.publish.spool import EventSpool
from tests.edge.conftest import Recorder
from tests.fixtures.services import MosquittoBroker
from tests.fixtures.tcp_proxy import TcpProxy

FAST = SenderOptions(
    window=500,
    ack_timeout_s=3.0,
    connect_timeout_s=2.0,
    stall_after_s=2.0,
    reconnect_initial_s=0.1,
    reconnect_max_s=0.4,
)


def make_publisher(url: str, spool: EventSpool, prefix: str) -> EventPublisher:
    options = MqttLinkOptions(f"edge-{prefix}", f"{prefix}/edge/w/status", b'{"state":"offline"}')
    return EventPublisher(MqttLink(parse_mqtt_url(url), options, FAST.window), spool, FAST)


class Burst:
    """Enqueues numbered events at about `rate` per second until stopped."""

    def __init__(self, publisher: EventPublisher, topic: str, rate: float, start: int = 0) -> None:
        self.publisher, self.topic, self.rate = publisher, topic, rate
        self.count = self.first = start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            due = self.first + int((time.monotonic() - started) * self.rate)
            while self.count < due:
                payload = json.dumps({"id": f"ev-{self.count:08d}", "n": self.count}).encode()
                self.publisher.enqueue_event(self.topic, payload, f"e:ev-{self.count:08d}")
                self.count += 1
            time.sleep(0.01)

    def __enter__(self) -> Burst:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def subscriber(private_broker: MosquittoBroker, prefix: str) -> Iterator[Recorder]:
    recorder = Recorder(private_broker.host, private_broker.port, f"{prefix}/cameras/+/events")
    recorder.start(f"rec-{prefix}")
    time.sleep(0.3)  # SUBACK before the first event
    yield recorder
    recorder.stop()


def wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.05)
    return False


def delivered(recorder: Recorder) -> Counter[int]:
    return Counter(int(p["n"]) for p in recorder.select(lambda topic, p: "n" in p))


def test_ten_link_outages_under_a_burst_lose_nothing(
    private_broker: MosquittoBroker, subscriber: Recorder, prefix: str, tmp_path: Path
) -> None:
    proxy = TcpProxy(private_broker.host, private_broker.port)
    proxy.start()
    spool = EventSpool(tmp_path / "spool.sqlite3", 200_000)
    publisher = make_publisher(proxy.url, spool, prefix)
    publisher.start()
    assert publisher.wait_connected(5)
    stalled_seen = False
    with Burst(publisher, f"{prefix}/cameras/c1/events", rate=1500) as burst:
        for _ in range(10):
            time.sleep(0.7)
            proxy.cut()
            time.sleep(1.2)
            stalled_seen = stalled_seen or publisher.health().seconds_since_progress > 1.0
            proxy.start()
    sent = burst.count
    assert wait_until(lambda: spool.depth == 0, 30), f"{spool.depth} events still spooled: {publisher.health()}"
    assert wait_until(lambda: len(delivered(subscriber)) == sent, 15)
    counts = delivered(subscriber)
    health = publisher.health()
    duplicates = sum(c - 1 for c in counts.values())
    print(f"sent {sent}, delivered {len(counts)} distinct, {duplicates} duplicates, {health}")
    assert set(counts) == set(range(sent))
    assert health.alive and health.connected and not health.stalled
    assert health.restarts >= 10 and proxy.connections >= 11
    assert duplicates <= health.resent  # only what was in flight when a link dropped (QoS 1)
    assert stalled_seen
    publisher.stop([])
    assert not publisher.alive
    spool.close()


def test_broker_killed_during_replay_then_everything_arrives(
    private_broker: MosquittoBroker, subscriber: Recorder, prefix: str, tmp_path: Path
) -> None:
    spool = EventSpool(tmp_path / "spool.sqlite3", 200_000)
    topic = f"{prefix}/cameras/c1/events"
    total = 15_000
    for n in range(total):  # an outage's worth of events, spooled before the link is up
        spool.append(topic, json.dumps({"id": f"ev-{n:08d}", "n": n}).encode(), f"e:ev-{n:08d}")
    # The publisher reaches the broker through a proxy that stays cut until the test's subscriber has
    # subscribed again: a kill -9 also loses the subscriber's session (Mosquitto saves it every
    # `autosave_interval`), and events re-sent before it is back would be the broker's loss, not ours.
    proxy = TcpProxy(private_broker.host, private_broker.port)
    proxy.start()
    publisher = make_publisher(proxy.url, spool, prefix)
    publisher.start()
    assert wait_until(lambda: publisher.acknowledged >= 3000, 20)
    private_broker.kill()
    proxy.cut()
    assert wait_until(lambda: not publisher.connected, 5)  # the session counted its last PUBACKs
    replayed_before_kill = publisher.acknowledged
    time.sleep(1.0)
    private_broker.start()
    assert subscriber.client is not None
    assert wait_until(subscriber.client.is_connected, 10)
    time.sleep(0.3)  # SUBACK
    proxy.start()
    assert wait_until(lambda: spool.depth == 0, 30), f"{spool.depth} events still spooled: {publisher.health()}"
    wait_until(lambda: len(delivered(subscriber)) >= total, 15)
    counts = delivered(subscriber)
    health = publisher.health()
    lost_by_broker = set(range(total)) - set(counts)
    duplicates = sum(counts.values()) - len(counts)
    print(f"{replayed_before_kill} acknowledged before the kill, {len(lost_by_broker)} of them lost by the broker")
    print(f"{duplicates} duplicates; {health}")
    # Mosquitto PUBACKs before it forwards, and a kill -9 loses what it had not yet forwarded (NATS.md):
    # only events the broker acknowledged before it died may be missing, never one the sender still held
    assert lost_by_broker <= set(range(replayed_before_kill))
    assert set(range(replayed_before_kill, total)) <= set(counts)
    assert health.alive and health.restarts >= 1 and replayed_before_kill < total
    publisher.stop([])
    spool.close()
