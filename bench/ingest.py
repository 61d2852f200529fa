"""Ingest benchmark: broker, database, server and load generator on this machine, every message
verified stored exactly once, on both transports in the same run.

    python bench/ingest.py [--quick] [--transport mqtt|jetstream|both] [--replicas N] [--database-url ADMIN_URL]

Phases (each prints a RESULT line; `jetstream_`-less names are the goals' figures on jetstream):
  mqtt:      paho_ceiling_msgs_per_s (bare paho subscriber, QoS 1), mqtt_ingest_msgs_per_s,
             mqtt_ingest_server_cpu_us_per_msg, mqtt_ingest_readings_per_s, ingest_lag_p99_ms
  jetstream: nats_ceiling_msgs_per_s (bare nats-py pull consumer), ingest_msgs_per_s and
             ingest_server_cpu_us_per_msg (native publishers, Nats-Msg-Id), ingest_readings_per_s
             (gateways, 50 readings a message), ingest_replicas_speedup (two replicas against one
             draining the same size of pre-filled backlog on a paused consumer)
  copy_rows_per_s, chart_query_p95_ms   from bench/query.py
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import psycopg

from contract.mqttclient import make_client
from contract.mqtturl import MqttEndpoint

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import jetstream_phases as js  # noqa: E402
from bench.query import DEFAULT_ADMIN, ISSUE_SET, QUICK_SET, copy_rate, run_chart_bench, temp_database  # noqa: E402
from ioc.netutil import free_port  # noqa: E402

PREFIX = "bench"
SENSORS = 500
BROKERS = ("mosquitto", "nats-server")


@contextmanager
def mosquitto(workdir: Path) -> Iterator[int]:
    port = free_port()
    config = workdir / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "max_queued_messages 10000000",
             "max_inflight_messages 0", "max_queued_bytes 0"]  # fmt: skip
    if os.geteuid() == 0:
        lines.append("user root")
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def write_streams(path: Path) -> None:
    sensors = "".join(
        f"  - {{id: s{i:03d}, name: S{i}, kind: salinity, unit: x, site: a, range: {{min: -1000, max: 1.0e9}}}}\n"
        for i in range(SENSORS)
    )
    path.write_text(
        f"version: 1\nmqtt: {{topic_prefix: {PREFIX}, shared_group: bench}}\nsites: [{{id: a, name: A}}]\n"
        f"sensors:\n{sensors}"
    )


@contextmanager
def servers(
    count: int, database_url: str, mqtt_port: int, streams: Path, workdir: Path,
    extra: dict[str, str] | None = None, first: int = 0,
) -> Iterator[None]:  # fmt: skip
    processes = []
    for index in range(first, first + count):
        port = free_port()
        env = {**os.environ, "IOC_DATABASE_URL": database_url, "IOC_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
               "IOC_CONFIG": str(streams), "IOC_PORT": str(port), "IOC_MQTT_CLIENT_ID": f"bench-server-{index}",
               "IOC_MQTT_SHARED_GROUP": "bench" if count > 1 else "", **(extra or {})}  # fmt: skip
        log = (workdir / f"server-{index}.log").open("w")
        command = [sys.executable, "-m", "ioc.cli", "server", "--log-level", "WARNING"]
        processes.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        wait_health(port)
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)


def wait_health(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                if json.loads(response.read())["mqtt"] == "connected":
                    return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"server on port {port} not healthy after {timeout}s")


class Publisher:
    """QoS 1, bounded queue (< 65,535 ids in use), every PUBACK counted (see shared/MQTT.md)."""

    def __init__(self, port: int) -> None:
        self.client = make_client(
            MqttEndpoint("127.0.0.1", port), f"bench-pub-{uuid.uuid4().hex[:6]}", protocol="3.1.1"
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(20000)
        self.acked = 0
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, *_args: object) -> None:
        with self._lock:
            self.acked += 1

    def publish(self, topic: str, payload: bytes) -> None:
        while True:
            rc = self.client.publish(topic, payload, qos=1).rc
            if rc == mqtt.MQTT_ERR_SUCCESS:
                return
            if rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                raise RuntimeError(mqtt.error_string(rc))
            time.sleep(0.001)

    def wait_acked(self, total: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < total:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.acked} of {total} acknowledged")
            time.sleep(0.005)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def single_payloads(count: int, base: datetime) -> list[tuple[str, bytes]]:
    return [
        (f"{PREFIX}/sensors/s{i % SENSORS:03d}",
         json.dumps({"value": i * 0.01, "ts": (base + timedelta(milliseconds=i)).isoformat()}).encode())
        for i in range(count)
    ]  # fmt: skip


def gateway_payloads(messages: int, base: datetime, per_message: int = 50) -> list[tuple[str, bytes]]:
    result = []
    for m in range(messages):
        readings = [
            {"sensor": f"s{(m * per_message + k) % SENSORS:03d}", "value": k,
             "ts": (base + timedelta(milliseconds=m * per_message + k)).isoformat()}
            for k in range(per_message)
        ]  # fmt: skip
        result.append((f"{PREFIX}/gateways/gw{m % 20}", json.dumps({"readings": readings}).encode()))
    return result


class CpuMeter:
    """CPU seconds of each process taking part (the machine is shared, so wall-clock rates move with
    other people's load; CPU per message does not): servers, broker, this process (the publisher),
    and the PostgreSQL backends serving the scratch database."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._me = psutil.Process()

    def _groups(self) -> dict[str, float]:
        totals = {"server": 0.0, "publisher": 0.0, "postgres": 0.0, "broker": 0.0}
        processes = [("publisher", self._me)]
        for child in self._me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                processes.append(("broker" if child.name() in BROKERS else "server", child))
        for process in psutil.process_iter(["cmdline"]):
            if self._database in " ".join(process.info["cmdline"] or []) and process.pid != self._me.pid:
                processes.append(("postgres", process))
        for group, process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                totals[group] += times.user + times.system
        return totals

    @contextmanager
    def measure(self, units: int, into: dict[str, float]) -> Iterator[None]:
        """Microseconds of CPU per unit (message or reading) by group, written into `into`."""
        before = self._groups()
        yield
        after = self._groups()
        into.update({group: (after[group] - before[group]) / units * 1e6 for group in before})


def cpu_note(cpu: dict[str, float], unit: str) -> str:
    """CPU per unit by process, and the rates those costs allow: the whole pipeline on 2 idle
    cores, and the server alone on one core (its decode/write loop is one Python thread)."""
    parts = ", ".join(f"{group} {value:.1f}" for group, value in cpu.items())
    total = sum(cpu.values())
    server = cpu["server"] or float("nan")
    return (
        f"CPU us/{unit}: {parts}; CPU-bound ceilings: all processes on 2 cores {2e6 / total:.0f}/s, "
        f"server process on 1 core {1e6 / server:.0f}/s"
    )


def count_rows(url: str, since: datetime) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (sensor_id, time)) FROM readings WHERE time >= %s",
                           (since,)).fetchone()  # fmt: skip
        assert row is not None and row[0] == row[1], f"duplicate rows: {row}"
        return int(row[0])


def count_quick(url: str, since: datetime) -> int:
    """Rows so far, cheaply (polled while the run goes on; `count_rows` checks distinctness once at the end)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM readings WHERE time >= %s", (since,)).fetchone()
        return int(row[0]) if row else 0


def run_stream(publisher: Publisher, url: str, payloads: list[tuple[str, bytes]], rows: int, since: datetime) -> float:
    """Seconds from the first publish until all `rows` are committed (verified exactly once)."""
    already = publisher.acked
    began = time.perf_counter()
    for topic, payload in payloads:
        publisher.publish(topic, payload)
    publisher.wait_acked(already + len(payloads))
    wait_rows(url, rows, since)
    elapsed = time.perf_counter() - began
    time.sleep(0.5)
    final = count_rows(url, since)
    assert final == rows, f"{final} rows stored for {rows} readings"
    return elapsed


def paho_ceiling(port: int, count: int) -> float:
    """A bare subscriber (own process, QoS 1) that parses JSON; rate from its first to last message."""
    code = (
        "import json,sys,time,paho.mqtt.client as m\n"
        "from paho.mqtt.enums import CallbackAPIVersion as V\n"
        "n=int(sys.argv[2]);s={'c':0,'t0':0.0}\n"
        "def on(c,u,msg):\n"
        " json.loads(msg.payload)\n"
        " s['c']+=1\n"
        " if s['c']==1: s['t0']=time.perf_counter()\n"
        " if s['c']==n: print(n/(time.perf_counter()-s['t0']),flush=True); c.disconnect()\n"
        "c=m.Client(V.VERSION2,client_id='ceiling',protocol=m.MQTTv5);c.on_message=on\n"
        "c.connect('127.0.0.1',int(sys.argv[1]));c.subscribe('ceiling/#',qos=1)\n"
        "print('ready',flush=True);c.loop_forever()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(port), str(count)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    publisher = Publisher(port)
    for topic, payload in single_payloads(count, datetime.now(UTC)):
        publisher.publish(topic.replace(PREFIX, "ceiling", 1), payload)
    rate = float(process.stdout.readline())
    process.wait(30)
    publisher.close()
    return rate


def lag_run(publisher: Publisher, url: str, rate: int, seconds: float) -> list[float]:
    """Publish at `rate` msg/s with ts = publish time; lag = commit (clock_timestamp at insert) - ts."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE readings ADD COLUMN IF NOT EXISTS bench_inserted_at timestamptz DEFAULT clock_timestamp()"
        )
    since = datetime.now(UTC)
    total = int(rate * seconds)
    began = time.perf_counter()
    for i in range(total):
        while time.perf_counter() < began + i / rate:
            time.sleep(0.0005)
        payload = json.dumps({"value": 1.0, "ts": datetime.now(UTC).isoformat()}).encode()
        publisher.publish(f"{PREFIX}/sensors/s{i % SENSORS:03d}", payload)
    deadline = time.monotonic() + 60
    while count_rows(url, since) < total and time.monotonic() < deadline:
        time.sleep(0.05)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT extract(epoch FROM bench_inserted_at - time) * 1000 FROM readings"
                            " WHERE time >= %s", (since,)).fetchall()  # fmt: skip
    assert len(rows) == total, f"{len(rows)} of {total} lag probes stored"
    return [float(row[0]) for row in rows]


def run_stream_native(node_url: str, url: str, payloads: list[tuple[str, bytes]], rows: int, since: datetime) -> float:
    """Seconds from the first native publish until all `rows` are committed (verified exactly once)."""
    messages = js.as_native(payloads, since.isoformat())
    began = time.perf_counter()
    js.publish_native([node_url], messages)
    wait_rows(url, rows, since)
    elapsed = time.perf_counter() - began
    time.sleep(0.5)
    final = count_rows(url, since)
    assert final == rows, f"{final} rows stored for {rows} readings"
    return elapsed


def wait_rows(url: str, rows: int, since: datetime, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while (stored := count_quick(url, since)) < rows:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {stored} of {rows} rows stored")
        time.sleep(0.05)


def drain_backlog(node_url: str, url: str, count: int, base: datetime) -> float:
    """Pause the ingest consumer, publish `count` readings, resume: seconds until all are committed."""
    js.pause_ingest([node_url])
    js.publish_native([node_url], js.as_native(single_payloads(count, base), base.isoformat()))
    began = time.perf_counter()
    js.resume_ingest([node_url])
    wait_rows(url, count, base)
    elapsed = time.perf_counter() - began
    assert count_rows(url, base) == count  # distinct, exactly once
    return elapsed


def mqtt_phases(args: argparse.Namespace, workdir: Path, singles: int, gateways: int) -> None:
    with mosquitto(workdir) as mqtt_port:
        ceiling = paho_ceiling(mqtt_port, singles)
        print(
            f"RESULT paho_ceiling_msgs_per_s {ceiling:.0f} msg/s (bare paho subscriber in its own process, QoS 1, "
            "JSON parse only: what one client connection can take, the bound for one reading per message)"
        )
        with temp_database(args.database_url) as url:
            print(f"RESULT copy_rows_per_s {copy_rate(url, 200_000 if args.quick else 1_000_000):.0f} rows/s")
            streams = workdir / "streams.yaml"
            write_streams(streams)
            with servers(args.replicas, url, mqtt_port, streams, workdir):
                meter = CpuMeter(url.rsplit("/", 1)[1])
                publisher = Publisher(mqtt_port)
                base = datetime(2026, 1, 1, tzinfo=UTC)
                payloads = single_payloads(singles, base)
                cpu: dict[str, float] = {}
                with meter.measure(singles, cpu):
                    seconds = run_stream(publisher, url, payloads, singles, base)
                rate = singles / seconds
                print(f"RESULT mqtt_ingest_msgs_per_s {rate:.0f} msg/s ({singles} msgs, {args.replicas} server(s), "
                      f"verified exactly once; {rate / ceiling:.0%} of the bare paho ceiling {ceiling:.0f} msg/s; "
                      f"{cpu_note(cpu, 'msg')})")  # fmt: skip
                print(f"RESULT mqtt_ingest_server_cpu_us_per_msg {cpu['server']:.1f} us")
                base = datetime(2026, 2, 1, tzinfo=UTC)
                rows = gateways * 50
                payloads, cpu = gateway_payloads(gateways, base), {}  # fresh dict per phase
                with meter.measure(rows, cpu):
                    seconds = run_stream(publisher, url, payloads, rows, base)
                print(f"RESULT mqtt_ingest_readings_per_s {rows / seconds:.0f} readings/s ({gateways} msgs x 50, "
                      f"verified exactly once; {cpu_note(cpu, 'reading')})")  # fmt: skip
                lag_rate = 1000 if args.quick else 2000
                lags = lag_run(publisher, url, lag_rate, 5 if args.quick else 15)
                p99 = statistics.quantiles(lags, n=100)[98]
                print(f"RESULT ingest_lag_p99_ms {p99:.1f} ms (p50 {statistics.median(lags):.1f} ms "
                      f"at {lag_rate} msg/s, publish to commit, mqtt)")  # fmt: skip
                publisher.close()


def jetstream_phases(args: argparse.Namespace, workdir: Path, singles: int, gateways: int) -> None:
    with js.nats_node(workdir) as node, temp_database(args.database_url) as url:
        rate, consumer_cpu = js.nats_ceiling(node, single_payloads(singles, datetime.now(UTC)))
        print(f"RESULT nats_ceiling_msgs_per_s {rate:.0f} msg/s (bare nats-py pull consumer in its own process: "
              f"fetch 500, JSON parse, explicit ack each; {consumer_cpu:.1f} us CPU/msg)")  # fmt: skip
        streams = workdir / "streams-js.yaml"
        write_streams(streams)
        extra = {"IOC_TRANSPORT": "jetstream", "IOC_NATS_URL": node.url, "IOC_MQTT_URL": node.mqtt_url,
                 "IOC_MQTT_PROTOCOL": "3.1.1"}  # fmt: skip
        with servers(1, url, node.mqtt_port, streams, workdir, extra):
            meter = CpuMeter(url.rsplit("/", 1)[1])
            base = datetime(2026, 1, 1, tzinfo=UTC)
            cpu: dict[str, float] = {}
            with meter.measure(singles, cpu):
                seconds = run_stream_native(node.url, url, single_payloads(singles, base), singles, base)
            rate_in = singles / seconds
            print(f"RESULT ingest_msgs_per_s {rate_in:.0f} msg/s (jetstream, {singles} msgs, native publisher "
                  f"with Nats-Msg-Id, 1 server, verified exactly once; {cpu_note(cpu, 'msg')})")  # fmt: skip
            print(f"RESULT ingest_server_cpu_us_per_msg {cpu['server']:.1f} us (jetstream; bare pull consumer "
                  f"{consumer_cpu:.1f} us)")  # fmt: skip
            base = datetime(2026, 2, 1, tzinfo=UTC)
            rows = gateways * 50
            cpu = {}
            with meter.measure(rows, cpu):
                seconds = run_stream_native(node.url, url, gateway_payloads(gateways, base), rows, base)
            print(f"RESULT ingest_readings_per_s {rows / seconds:.0f} readings/s (jetstream, {gateways} msgs x 50, "
                  f"verified exactly once; {cpu_note(cpu, 'reading')})")  # fmt: skip
            backlog = singles
            one = drain_backlog(node.url, url, backlog, datetime(2026, 3, 1, tzinfo=UTC))
            with servers(1, url, node.mqtt_port, streams, workdir, extra, first=1):
                two = drain_backlog(node.url, url, backlog, datetime(2026, 4, 1, tzinfo=UTC))
            print(f"RESULT ingest_replicas_speedup {one / two:.2f} x (a paused consumer's backlog of {backlog} "
                  f"msgs drained by 1 replica in {one:.2f} s, by 2 in {two:.2f} s; 2 cores shared with NATS and "
                  "PostgreSQL)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs, under a minute")
    parser.add_argument("--transport", choices=["mqtt", "jetstream", "both"], default="both")
    parser.add_argument("--replicas", type=int, default=1, help="mqtt: server processes sharing the ingest ($share)")
    parser.add_argument("--database-url", default=DEFAULT_ADMIN, help="admin URL; a scratch database is created")
    parser.add_argument("--skip-chart", action="store_true", help="skip the chart query benchmark")
    args = parser.parse_args()
    if args.transport != "jetstream" and shutil.which("mosquitto") is None:
        raise SystemExit("bench/ingest.py needs mosquitto for the mqtt transport (apt-get install mosquitto)")
    singles, gateways = (20_000, 1_000) if args.quick else (100_000, 4_000)
    with tempfile.TemporaryDirectory() as tmp:
        if args.transport in ("mqtt", "both"):
            mqtt_phases(args, Path(tmp), singles, gateways)
        if args.transport in ("jetstream", "both"):
            jetstream_phases(args, Path(tmp), singles, gateways)
    if not args.skip_chart:
        sensors, days = QUICK_SET if args.quick else ISSUE_SET
        value, described = run_chart_bench(args.database_url, sensors, days, 200 if args.quick else 1000)
        print(f"RESULT chart_query_p95_ms {value:.2f} ms ({described})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
