"""The whole system under faults: an edge worker detecting people on the real clip, sensors
publishing, alerts going to a webhook; the server is killed (SIGKILL) and restarted, then the
broker is restarted, mid-stream. Every detection event and every reading is stored exactly once,
and the alert is delivered exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.services import MosquittoBroker, free_port, wait_for_port

SECRET = "mixed-stream-webhook-secret-0123456789"
SENSORS = 20


def _streams(prefix: str, video: str, model: str, hook_url: str) -> str:
    sensors = "\n".join(
        f'  - {{id: s-{i:02d}, name: Gauge {i}, kind: salinity, unit: "‰", site: site-1, range: {{min: 0, max: 45}}}}'
        for i in range(SENSORS)
    )
    return f"""
version: 1
mqtt: {{topic_prefix: {prefix}}}
sites: [{{id: site-1, name: Site}}]
edge_workers: [{{id: w1}}]
detectors: {{d: {{type: onnx, model: "{model}", imgsz: 320}}}}
cameras:
  - id: hall
    name: Hall
    site: site-1
    worker: w1
    source: {{type: file, path: "{video}", loop: true}}
    detect: {{detector: d, fps: 3, classes: [person], min_confidence: 0.3}}
    lines: [{{id: corridor, start: [0.05, 0.6], end: [0.95, 0.6]}}]
sensors:
{sensors}
channels:
  - {{id: hook, type: webhook, url: "{hook_url}", secret: "{SECRET}", max_attempts: 20}}
rules:
  - id: salt
    type: threshold
    sensors: [s-00]
    raise: {{above: 4.0}}
    clear: {{below: 3.0}}
    channels: [hook]
"""


class WebhookReceiver:
    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.deliveries.append((body["alert"]["id"], body["alert"]["state"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


class EventRecorder:
    """Ground truth: every event id the edge worker published (persistent QoS 1 session)."""

    def __init__(self, broker: MosquittoBroker, topic: str) -> None:
        self.ids: list[str] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"recorder-{os.getpid()}", clean_session=False)
        self.client.on_message = lambda _c, _u, m: self.ids.append(json.loads(m.payload)["id"])
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ioc.cli", *self.args], env=self.env, stdout=out, stderr=out
            )

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=30)


@pytest.fixture
def inputs() -> tuple[str, str]:
    video, model = os.environ.get("IOC_TEST_VIDEO"), os.environ.get("IOC_TEST_MODEL")
    if not (video and model):
        pytest.skip("IOC_TEST_VIDEO and IOC_TEST_MODEL are needed for the edge worker")
    return video, model


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


def _count(database_url: str, query: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query.encode()).fetchone()
        return int(row[0]) if row else 0


def test_server_kill_and_broker_restart_lose_and_repeat_nothing(
    tmp_path: Path,
    inputs: tuple[str, str],
    private_broker: MosquittoBroker,
    pg_database: str,
    topic_prefix: str,
    receiver: WebhookReceiver,
) -> None:
    video, model = inputs
    config = tmp_path / "streams.yaml"
    config.write_text(_streams(topic_prefix, video, model, receiver.url), encoding="utf-8")
    port = free_port()
    env = dict(
        os.environ,
        IOC_DATABASE_URL=pg_database,
        IOC_MQTT_URL=private_broker.url,
        IOC_CONFIG=str(config),
        IOC_PORT=str(port),
        IOC_MQTT_CLIENT_ID=f"server-{topic_prefix}",
        IOC_SPOOL_DIR=str(tmp_path / "spool"),
    )
    server = Process(["server"], env, tmp_path / "server.log")
    edge = Process(["edge", "--worker-id", "w1"], env, tmp_path / "edge.log")
    recorder = EventRecorder(private_broker, f"{topic_prefix}/cameras/+/events")
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{topic_prefix}", clean_session=False)
    publisher.max_queued_messages_set(10000)
    publisher.reconnect_delay_set(0.1, 1)
    publisher.connect(private_broker.host, private_broker.port)
    publisher.loop_start()
    server.start()
    wait_for_port("127.0.0.1", port, timeout=60)
    edge.start()

    sent = 0
    started = int(time.time()) - 3600

    def publish_second(second: int, salt: float) -> None:
        nonlocal sent
        for index in range(SENSORS):
            value = salt if index == 0 else 1.0
            payload = json.dumps({"v": 1, "value": value, "ts": float(started + second)})
            info = publisher.publish(f"{topic_prefix}/sensors/s-{index:02d}", payload, qos=1)
            assert info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)
            sent += 1

    for second in range(60):
        publish_second(second, salt=5.0 if second >= 5 else 1.0)  # crosses 4 ‰ at second 5 and stays
        if second == 15:
            server.signal(signal.SIGKILL)  # abrupt: nothing flushed, unacked messages stay at the broker
        if second == 25:
            server.start()
        if second == 40:
            private_broker.stop()
        if second == 43:
            private_broker.start()
        time.sleep(0.4)

    def settled() -> bool:
        readings = _count(pg_database, "SELECT count(*) FROM readings")
        events = _count(pg_database, "SELECT count(*) FROM detection_events")
        return readings == sent and events >= len(set(recorder.ids)) > 0

    deadline = time.monotonic() + 90
    while not settled() and time.monotonic() < deadline:
        time.sleep(1)
    edge.signal(signal.SIGTERM)
    time.sleep(3)  # the worker's last events reach the broker and the server
    deadline = time.monotonic() + 60
    while not settled() and time.monotonic() < deadline:
        time.sleep(1)
    server.signal(signal.SIGTERM)
    recorder.close()
    publisher.loop_stop()

    assert _count(pg_database, "SELECT count(*) FROM readings") == sent
    stored_ids = {row[0] for row in psycopg.connect(pg_database).execute("SELECT id FROM detection_events").fetchall()}
    published_ids = set(recorder.ids)
    assert len(published_ids) > 5, "the edge worker detected people on the clip"
    assert published_ids <= stored_ids, f"lost events: {sorted(published_ids - stored_ids)[:5]}"
    assert stored_ids <= published_ids, "the server stored events nobody published"
    firing = [delivery for delivery in receiver.deliveries if delivery[1] == "firing"]
    assert len(firing) == 1, f"the alert was delivered {len(firing)} times: {receiver.deliveries}"
