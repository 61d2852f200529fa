"""Spool figures for bench/edge.py: replay rate after an outage, delivery over ten short outages.

A private Mosquitto (own port, own store) and the worker's real sender (`EventPublisher` over the
MQTT link, one fresh paho client per session). The link flaps through a loopback TCP proxy that is
cut and restored, while a subscriber on the broker itself counts what arrives.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from contract.mqttclient import make_client
from contract.mqtturl import MqttEndpoint, parse_mqtt_url
from edge.publish.mqtt import MqttLink, MqttLinkOptions
from edge.publish.sender import EventPublisher, SenderOptions
from edge.publish.spool import EventSpool
from ioc.netutil import free_port, wait_for_port
from tests.fixtures.tcp_proxy import TcpProxy

OPTIONS = SenderOptions(ack_timeout_s=3.0, connect_timeout_s=2.0, reconnect_initial_s=0.1, reconnect_max_s=0.4)


@contextlib.contextmanager
def mosquitto(workdir: Path) -> Iterator[int]:
    port = free_port()
    config = workdir / "mosquitto.conf"
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "max_queued_messages 1000000",
        "max_inflight_messages 1000",
    ]
    config.write_text("\n".join(lines) + "\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, process=process)
        yield port
    finally:
        process.kill()
        process.wait(10)


class Counting:
    """A QoS 1 subscriber on the broker that counts each event number it receives."""

    def __init__(self, port: int, topic: str) -> None:
        self.counts: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._client = make_client(MqttEndpoint(host="127.0.0.1", port=port), f"count-{uuid.uuid4().hex[:8]}")
        self._client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        time.sleep(0.3)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.counts[int(json.loads(message.payload)["n"])] += 1

    def distinct(self) -> int:
        with self._lock:
            return len(self.counts)

    def duplicates(self) -> int:
        with self._lock:
            return sum(self.counts.values()) - len(self.counts)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _publisher(url: str, spool: EventSpool) -> EventPublisher:
    options = MqttLinkOptions(f"bench-{uuid.uuid4().hex[:8]}", "bench/edge/status", b"offline")
    return EventPublisher(MqttLink(parse_mqtt_url(url), options, OPTIONS.window), spool, OPTIONS)


def _payload(n: int) -> bytes:
    return json.dumps({"id": f"ev-{n:08d}", "n": n, "kind": "object_seen", "camera_id": "bench"}).encode()


def replay_rate(events: int) -> float:
    """Events per second acknowledged by the broker when a spool of `events` is replayed."""
    with tempfile.TemporaryDirectory() as tmp, mosquitto(Path(tmp)) as port:
        spool = EventSpool(Path(tmp) / "spool.sqlite3", events + 1)
        for n in range(events):
            spool.append("bench/cameras/c/events", _payload(n), f"e:ev-{n:08d}")
        publisher = _publisher(f"mqtt://127.0.0.1:{port}", spool)
        began = time.monotonic()
        publisher.start()
        while spool.depth and time.monotonic() - began < 120:
            time.sleep(0.01)
        elapsed = time.monotonic() - began
        publisher.stop([])
        spool.close()
    print(f"spool replay: {events} events in {elapsed:.2f} s (connect included)")
    return events / elapsed


def flap_delivered_pct(outages: int, rate: float, down_s: float, up_s: float) -> float:
    """Percent of events delivered (distinct, at a subscriber) over `outages` cuts of the link under a burst."""
    topic = "bench/cameras/c/events"
    with tempfile.TemporaryDirectory() as tmp, mosquitto(Path(tmp)) as port:
        subscriber = Counting(port, topic)
        proxy = TcpProxy("127.0.0.1", port)
        proxy.start()
        spool = EventSpool(Path(tmp) / "spool.sqlite3", 1_000_000)
        publisher = _publisher(proxy.url, spool)
        publisher.start()
        sent, stop = 0, threading.Event()

        def burst() -> None:
            nonlocal sent
            began = time.monotonic()
            while not stop.is_set():
                while sent < int((time.monotonic() - began) * rate):
                    publisher.enqueue_event(topic, _payload(sent), f"e:ev-{sent:08d}")
                    sent += 1
                time.sleep(0.01)

        producer = threading.Thread(target=burst, daemon=True)
        producer.start()
        for _ in range(outages):
            time.sleep(up_s)
            proxy.cut()
            time.sleep(down_s)
            proxy.start()
        stop.set()
        producer.join(5)
        deadline = time.monotonic() + 60
        while (spool.depth or subscriber.distinct() < sent) and time.monotonic() < deadline:
            time.sleep(0.05)
        health = publisher.health()
        delivered, duplicates = subscriber.distinct(), subscriber.duplicates()
        publisher.stop([])
        subscriber.close()
        spool.close()
    print(
        f"{outages} outages of {down_s:g} s under {rate:.0f} events/s: {sent} sent, {delivered} delivered, "
        f"{duplicates} duplicates ({health.resent} re-sent), {health.restarts} sessions lost, "
        f"sender alive {health.alive}"
    )
    return 100.0 * delivered / max(sent, 1)
