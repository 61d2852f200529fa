"""Soak: cameras and many sensors for a long time; memory must stay flat, queues bounded, drops counted.

    .venv/bin/python bench/soak.py --quick            # 60 s, 4 cameras, 1,000 sensors at 1 Hz
    .venv/bin/python bench/soak.py --minutes 30       # the issue's soak

Real parts: a private Mosquitto, a fresh PostgreSQL database (IOC_BENCH_ADMIN_URL, default the
local server), `ioc server` and `ioc edge` as child processes, file-source cameras looping the
clip in IOC_TEST_VIDEO (detection with IOC_TEST_MODEL when set), and a publisher sending one
reading per sensor per second (QoS 1, every return code checked). Every few seconds the resident
memory of the server and edge processes is sampled; the growth is the slope over the second half
of the run (after warm-up), in MB per hour. At the end every published reading must be stored
exactly once.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import psycopg

from contract.mqttclient import make_client
from contract.mqtturl import MqttEndpoint

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.query import DEFAULT_ADMIN, temp_database  # noqa: E402
from ioc.demo.services import MosquittoService  # noqa: E402
from ioc.netutil import free_port, wait_for_port  # noqa: E402

WORKER = "soak-edge"
PREFIX = "soak"


def streams_yaml(cameras: int, sensors: int, video: str | None, model: str | None) -> str:
    lines = [
        "version: 1",
        f"mqtt: {{topic_prefix: {PREFIX}}}",
        "sites: [{id: site-1, name: Soak site}]",
        f"edge_workers: [{{id: {WORKER}}}]",
    ]
    if model:
        lines.append(f'detectors: {{soak: {{type: onnx, model: "{model}", imgsz: 320}}}}')
    lines.append("cameras:" if video and cameras else "cameras: []")
    for index in range(cameras if video else 0):
        detect = "{detector: soak, fps: 5, classes: [person]}" if model else "{enabled: false}"
        lines += [
            f"  - id: cam-{index}",
            f"    name: Camera {index}",
            "    site: site-1",
            f"    worker: {WORKER}",
            f'    source: {{type: file, path: "{video}", loop: true}}',
            f"    detect: {detect}",
            "    zones: [{id: hall, points: [[0.05, 0.3], [0.95, 0.3], [0.95, 0.98], [0.05, 0.98]]}]",
            "    lines: [{id: corridor, start: [0.05, 0.6], end: [0.95, 0.6]}]",
        ]
    lines.append("sensors:")
    for index in range(sensors):
        lines.append(
            f'  - {{id: s-{index:04d}, name: Gauge {index}, kind: salinity, unit: "‰", site: site-1, '
            "range: {min: 0, max: 45}, expected_interval: 5s}"
        )
    lines += [
        "rules:",
        "  - {id: salt, type: threshold, sensor_kind: salinity, raise: {above: 40, for: 10s}, clear: {below: 30}}",
    ]
    return "\n".join(lines) + "\n"


class ReadingPublisher(threading.Thread):
    """One reading per sensor per second, QoS 1; a refused publish is retried, never dropped."""

    def __init__(self, port: int, sensors: int, stop: threading.Event) -> None:
        super().__init__(name="soak-publisher", daemon=True)
        self.sensors, self.stop_event = sensors, stop
        self.published = 0
        self.acked = 0
        self._lock = threading.Lock()
        self.client = make_client(MqttEndpoint("127.0.0.1", port), "soak-publisher")
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(5000)
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, *_: object) -> None:
        with self._lock:
            self.acked += 1

    def run(self) -> None:
        second = int(time.time())
        while not self.stop_event.is_set():
            for index in range(self.sensors):
                payload = json.dumps({"v": 1, "value": 1.0 + (index % 7) * 0.1, "ts": float(second)})
                topic = f"{PREFIX}/sensors/s-{index:04d}"
                while self.client.publish(topic, payload, qos=1).rc != mqtt.MQTT_ERR_SUCCESS:
                    time.sleep(0.005)
                self.published += 1
            second += 1
            time.sleep(max(0.0, second - time.time()))

    def close(self) -> None:
        """Wait until the broker acknowledged every reading, then disconnect."""
        deadline = time.monotonic() + 60
        while self.acked < self.published and time.monotonic() < deadline:
            time.sleep(0.1)
        self.client.disconnect()
        self.client.loop_stop()


class EdgeStatsListener:
    """Keeps the edge worker's latest stats message (drops, spool depth)."""

    def __init__(self, port: int) -> None:
        self.last: dict[str, object] = {}
        self.spool_depth_max = 0
        self.client = make_client(MqttEndpoint("127.0.0.1", port))
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{PREFIX}/edge/{WORKER}/stats", qos=0)
        self.client.loop_start()

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self.last = json.loads(message.payload)
        self.spool_depth_max = max(self.spool_depth_max, int(str(self.last.get("spool_depth", 0))))

    def frames_dropped(self) -> int:
        cameras = self.last.get("cameras", [])
        return sum(int(camera.get("frames_dropped", 0)) for camera in cameras) if isinstance(cameras, list) else 0

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Samples:
    times: list[float] = field(default_factory=list)
    server_mb: list[float] = field(default_factory=list)
    edge_mb: list[float] = field(default_factory=list)
    pending: list[float] = field(default_factory=list)


def rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 1e6


def growth_per_hour(times: list[float], values: list[float]) -> float:
    """Least-squares slope over the second half of the run, in units per hour."""
    half = len(times) // 2
    xs, ys = times[half:], values[half:]
    if len(xs) < 3:
        return 0.0
    slope = statistics.linear_regression(xs, ys).slope
    return slope * 3600


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def sample(samples: Samples, server: psutil.Process, edge: psutil.Process, port: int) -> None:
    import urllib.request

    samples.times.append(time.monotonic())
    samples.server_mb.append(rss_mb(server))
    samples.edge_mb.append(rss_mb(edge))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            samples.pending.append(float(json.loads(response.read()).get("pending_messages", 0)))
    except OSError:
        samples.pending.append(float("nan"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 seconds")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--sensors", type=int, default=1000)
    args = parser.parse_args()
    duration = 60.0 if args.quick else args.minutes * 60
    video, model = os.environ.get("IOC_TEST_VIDEO"), os.environ.get("IOC_TEST_MODEL")
    if not video:
        print("note: IOC_TEST_VIDEO is not set: no cameras, sensors only", file=sys.stderr)
    with (
        tempfile.TemporaryDirectory(prefix="ioc-soak-") as tmp,
        temp_database(os.environ.get("IOC_BENCH_ADMIN_URL", DEFAULT_ADMIN)) as database_url,
    ):
        work = Path(tmp)
        broker = MosquittoService("/usr/sbin/mosquitto", work / "mqtt")
        port = int(broker.url.rsplit(":", 1)[1])
        config = work / "streams.yaml"
        config.write_text(streams_yaml(args.cameras, args.sensors, video, model), encoding="utf-8")
        http_port = free_port()
        env = dict(
            os.environ,
            IOC_DATABASE_URL=database_url,
            IOC_MQTT_URL=broker.url,
            IOC_CONFIG=str(config),
            IOC_PORT=str(http_port),
            IOC_SPOOL_DIR=str(work / "spool"),
            YOLO_OFFLINE="1",
            YOLO_AUTOINSTALL="0",
        )
        logs = [(work / "server.log").open("wb"), (work / "edge.log").open("wb")]
        server = subprocess.Popen([sys.executable, "-m", "ioc.cli", "server"], env=env, stdout=logs[0], stderr=logs[0])
        edge = subprocess.Popen(
            [sys.executable, "-m", "ioc.cli", "edge", "--worker-id", WORKER], env=env, stdout=logs[1], stderr=logs[1]
        )
        stop = threading.Event()
        try:
            wait_for_port("127.0.0.1", http_port, timeout=90)
            stats = EdgeStatsListener(port)
            publisher = ReadingPublisher(port, args.sensors, stop)
            publisher.start()
            samples = Samples()
            began = time.monotonic()
            while time.monotonic() - began < duration:
                time.sleep(5)
                sample(samples, psutil.Process(server.pid), psutil.Process(edge.pid), http_port)
            stop.set()
            publisher.join(timeout=30)
            publisher.close()
            stored = wait_stored(database_url, publisher.published, timeout=120)
            report(samples, publisher.published, stored, time.monotonic() - began, http_port)
            print(f"RESULT soak_edge_frames_dropped {stats.frames_dropped()} frames (counted, latest stats)")
            print(f"RESULT soak_edge_spool_depth_max {stats.spool_depth_max} events")
            stats.close()
        finally:
            stop.set()
            for child in (edge, server):
                child.terminate()
                child.wait(timeout=30)
            for log in logs:
                log.close()
            broker.stop()
    return 0


def wait_stored(database_url: str, published: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    stored = 0
    while time.monotonic() < deadline:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
            stored = int(row[0]) if row else 0
        if stored >= published:
            break
        time.sleep(1)
    return stored


def report(samples: Samples, published: int, stored: int, seconds: float, http_port: int) -> None:
    import urllib.request

    print(f"RESULT soak_duration_s {seconds:.0f} s")
    print(f"RESULT soak_readings_published {published} readings")
    print(f"RESULT soak_readings_stored {stored} readings (exactly once: {stored == published})")
    print(f"RESULT soak_server_rss_mb {samples.server_mb[0]:.0f}->{samples.server_mb[-1]:.0f} MB")
    print(f"RESULT soak_server_rss_growth_mb_per_h {growth_per_hour(samples.times, samples.server_mb):.1f} MB/h")
    print(f"RESULT soak_edge_rss_mb {samples.edge_mb[0]:.0f}->{samples.edge_mb[-1]:.0f} MB")
    print(f"RESULT soak_edge_rss_growth_mb_per_h {growth_per_hour(samples.times, samples.edge_mb):.1f} MB/h")
    pending = [value for value in samples.pending if not math.isnan(value)]
    print(f"RESULT soak_ingest_pending_max {max(pending, default=0):.0f} messages")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=5) as response:
            print(f"health at the end: {response.read().decode()}")
    except OSError as exc:
        print(f"health at the end: {exc}")


if __name__ == "__main__":
    raise SystemExit(main())
