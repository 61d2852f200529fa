"""Alert latency benchmark. Prints RESULT lines.

    .venv/bin/python bench/alerts.py --quick

- alert_latency_p50_ms / alert_latency_p99_ms: from the MQTT publish of a threshold-crossing
  reading to the `firing` message at a real WebSocket client on `WS /api/alerts/stream` of a real
  server (`ioc server`, its own process, loopback), goal p99 < 100 ms.
- incident_open_latency_p50_ms / incident_open_latency_p99_ms: the probe rule opens incidents
  (`incident:`, grouped by site); after the first probe sensor's alert opened one, from the MQTT
  publish of the second probe sensor's crossing reading to the incident update (its alert linked)
  at the same WebSocket client, under the same background load; goal p99 < 100 ms. Each round's
  incident is then resolved and closed over the REST API, so every round starts a fresh one.
  incident_after_alert_p99_ms: the incident's own share, from the alert's `firing` message to the
  incident update at the same client (the baseline, measured in the same run, is the alert path).
- alert_background_readings_per_s: the background load during the measurement, as stored by the
  server (rows in `readings` / publishing time); a separate process publishes it as gateway
  batches to background sensors that a (never firing) threshold rule watches.

Own Mosquitto (private config, high queue limits) on a free port; the database is
`IOC_BENCH_DATABASE_URL`, or a fresh one on postgresql://postgres@127.0.0.1:5432/postgres that is
dropped at the end. The WebSocket logs in as the bootstrap admin (session token as Bearer).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import paho.mqtt.client as mqtt
import psycopg
import websockets

from contract.mqttclient import make_client
from contract.mqtturl import MqttEndpoint
from ioc.netutil import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PREFIX = "bench"
PROBE_SENSOR = "probe-1"
SECOND_PROBE = "probe-2"
PROBE_RULE = "probe-salinity"
BACKGROUND_SENSORS = 500
BATCH_SIZE = 100
ADMIN = "admin"


@dataclass(frozen=True)
class Plan:
    rate: int
    seconds: float
    probes: int
    warmup_s: float


# --------------------------------------------------------------------------- services


def mosquitto_config(workdir: Path, port: int) -> Path:
    """High limits: no QoS 1 message is dropped for a slow subscriber during the run (see MQTT.md)."""
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence false",
        "max_queued_messages 1000000",
        "max_queued_bytes 0",
        "max_inflight_messages 1000",
        "max_packet_size 10000000",
        f"log_dest file {workdir / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
    ]
    if os.geteuid() == 0:
        lines.append("user root")
    path = workdir / "mosquitto.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def mosquitto(workdir: Path) -> Iterator[int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    command = [binary, "-c", str(mosquitto_config(workdir, port))]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield port
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    given = os.environ.get("IOC_BENCH_DATABASE_URL")
    if given:
        yield given
        return
    name = f"ioc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DEFAULT_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield with_database(DEFAULT_ADMIN_URL, name)
    finally:
        with psycopg.connect(DEFAULT_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def background_ids() -> list[str]:
    return [f"bg-{i:04d}" for i in range(BACKGROUND_SENSORS)]


def streams_yaml() -> str:
    sensors = [
        f'  - {{id: {PROBE_SENSOR}, name: Probe, kind: salinity, unit: "‰", site: s1, range: {{min: 0, max: 45}}}}',
        f'  - {{id: {SECOND_PROBE}, name: Probe 2, kind: salinity, unit: "‰", site: s1, range: {{min: 0, max: 45}}}}',
        *(
            f"  - {{id: {sid}, name: {sid}, kind: water_level, unit: m, site: s1, range: {{min: 0, max: 1000}}}}"
            for sid in background_ids()
        ),
    ]
    rules = f"""rules:
  - id: {PROBE_RULE}
    type: threshold
    sensors: [{PROBE_SENSOR}, {SECOND_PROBE}]
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
    incident: {{type: probe, window: 15m}}
  - id: background-level
    type: threshold
    sensor_kind: water_level
    raise: {{above: 900}}
    clear: {{below: 800}}
"""
    head = f"version: 1\nmqtt: {{topic_prefix: {PREFIX}, shared_group: null}}\nsites: [{{id: s1, name: Site 1}}]\n"
    return head + "sensors:\n" + "\n".join(sensors) + "\n" + rules


@contextlib.contextmanager
def server(workdir: Path, database_url: str, broker_port: int, password: str) -> Iterator[str]:
    config = workdir / "streams.yaml"
    config.write_text(streams_yaml(), encoding="utf-8")
    with server_process(workdir, database_url, broker_port, config, password) as base:
        yield base


@contextlib.contextmanager
def server_process(
    workdir: Path, database_url: str, broker_port: int, config: Path, password: str, **extra_env: str
) -> Iterator[str]:
    """`ioc server` on a free port with `config`, until SIGTERM; yields its base URL once healthy."""
    port = free_port()
    env = {
        **os.environ,
        "IOC_DATABASE_URL": database_url,
        "IOC_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        "IOC_CONFIG": str(config),
        "IOC_HOST": "127.0.0.1",
        "IOC_PORT": str(port),
        "IOC_MQTT_CLIENT_ID": f"bench-{uuid.uuid4().hex[:8]}",
        "IOC_AUTH_BOOTSTRAP_ADMIN": ADMIN,
        "IOC_AUTH_BOOTSTRAP_PASSWORD": password,
        **extra_env,
    }
    log = (workdir / "server.log").open("wb")
    command = [sys.executable, "-m", "ioc.cli", "server", "--log-level", "WARNING"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, workdir / "server.log")
        yield base
    finally:
        stop(process)
        log.close()


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench/alerts.py: the server exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"bench/alerts.py: the server is not healthy after {timeout}s:\n{log.read_text()[-3000:]}")


def login(base: str, password: str) -> str:
    response = httpx.post(f"{base}/api/auth/login", json={"username": ADMIN, "password": password}, timeout=30)
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


# --------------------------------------------------------------------------- MQTT


def connect(port: int, name: str) -> mqtt.Client:
    client = make_client(MqttEndpoint("127.0.0.1", port), f"{name}-{uuid.uuid4().hex[:8]}", protocol="3.1.1")
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(2000)  # well below 65,535 packet ids (MQTT.md)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish(client: mqtt.Client, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
    while True:
        info = client.publish(topic, payload, qos=1)
        if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: queued until CONNACK
            return info
        if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
            raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")
        time.sleep(0.002)


def batch(sensors: list[str], start: int, now: datetime) -> bytes:
    stamp = now.isoformat()
    values = [
        {"sensor": sensors[(start + i) % len(sensors)], "value": round(1.0 + (start + i) % 7 * 0.1, 2), "ts": stamp}
        for i in range(BATCH_SIZE)
    ]
    return json.dumps({"v": 1, "readings": values}).encode()


def stop_on_eof() -> threading.Event:
    """Set when the parent closes our stdin (or dies)."""
    done = threading.Event()

    def wait() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    return done


def run_load(port: int, rate: int, seconds: float) -> int:
    """The background process: `rate` readings/s as gateway batches until stdin closes (at most
    `seconds`); prints what it sent and for how long."""
    client = connect(port, "load")
    sensors = background_ids()
    interval = BATCH_SIZE / rate
    done = stop_on_eof()
    started = time.monotonic()
    sent, infos = 0, []
    while (now := time.monotonic()) - started < seconds and not done.is_set():
        due = started + (sent // BATCH_SIZE) * interval
        if now < due:
            time.sleep(due - now)
        infos.append(publish(client, f"{PREFIX}/gateways/gw-1", batch(sensors, sent, datetime.now(UTC))))
        sent += BATCH_SIZE
    for info in infos:
        info.wait_for_publish(30)
    elapsed = time.monotonic() - started
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"readings": sent, "seconds": elapsed}), flush=True)
    return 0


def start_load(port: int, plan: Plan) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(Path(__file__).resolve()), "--load-port", str(port)]
    command += ["--rate", str(plan.rate), "--seconds", str(10 * (plan.seconds + plan.warmup_s))]
    return subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)


# --------------------------------------------------------------------------- the measurement


def reading(value: float) -> bytes:
    return json.dumps({"v": 1, "value": value, "ts": datetime.now(UTC).isoformat()}).encode()


async def receive(ws: websockets.ClientConnection, queue: asyncio.Queue[tuple[float, dict[str, object]]]) -> None:
    async for raw in ws:
        arrived = time.perf_counter()
        await queue.put((arrived, json.loads(raw)))


Inbox = asyncio.Queue[tuple[float, dict[str, object]]]


async def next_action(queue: Inbox, action: str, subject: str = PROBE_SENSOR, timeout: float = 10) -> float:
    """Arrival time of the next message with `action` for the probe rule's alert of `subject`."""
    deadline = time.monotonic() + timeout
    while True:
        arrived, message = await asyncio.wait_for(queue.get(), max(0.01, deadline - time.monotonic()))
        alert = message.get("alert")
        if message.get("action") != action or not isinstance(alert, dict):
            continue
        if alert.get("rule_id") == PROBE_RULE and alert.get("subject") == subject:
            return arrived


async def next_incident(queue: Inbox, kind: str, subject: str, timeout: float = 10) -> tuple[float, str]:
    """Arrival time and id of the next incident message with a `kind` entry about `subject`."""
    deadline = time.monotonic() + timeout
    while True:
        arrived, message = await asyncio.wait_for(queue.get(), max(0.01, deadline - time.monotonic()))
        entries = message.get("entries")
        incident = message.get("incident")
        if message.get("type") != "incident" or not isinstance(entries, list) or not isinstance(incident, dict):
            continue
        if any(e.get("kind") == kind and e.get("data", {}).get("subject") == subject for e in entries):
            return arrived, str(incident["id"])


async def close_incident(http: httpx.AsyncClient, incident_id: str) -> None:
    for state in ("resolved", "closed"):
        response = await http.post(f"/api/incidents/{incident_id}/transition", json={"to": state})
        response.raise_for_status()


async def probe_latencies(
    ws_url: str, token: str, broker_port: int, plan: Plan
) -> tuple[list[float], list[float], list[float]]:
    client = connect(broker_port, "probe")
    topic, second = f"{PREFIX}/sensors/{PROBE_SENSOR}", f"{PREFIX}/sensors/{SECOND_PROBE}"
    queue: Inbox = asyncio.Queue()
    latencies: list[float] = []
    incident_latencies: list[float] = []
    incident_overheads: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    base = ws_url.replace("ws://", "http://").removesuffix("/api/alerts/stream")
    http = httpx.AsyncClient(base_url=base, headers=headers, timeout=30)
    async with websockets.connect(ws_url, additional_headers=headers, max_size=None) as ws:
        reader = asyncio.create_task(receive(ws, queue))
        snapshot = await asyncio.wait_for(queue.get(), 10)
        assert snapshot[1].get("type") == "snapshot", snapshot
        await asyncio.sleep(plan.warmup_s)
        gap = max(0.05, plan.seconds / plan.probes - 0.05)
        deadline = time.monotonic() + 2 * plan.seconds  # a server far behind ends the run early
        while len(latencies) < plan.probes and time.monotonic() < deadline:
            sent = time.perf_counter()
            publish(client, topic, reading(5.0))
            latencies.append((await next_action(queue, "firing")) - sent)
            await next_incident(queue, "linked", PROBE_SENSOR)  # the incident opened (with this alert)
            sent = time.perf_counter()
            publish(client, second, reading(5.0))  # the second related reading: its alert joins the incident
            fired = await next_action(queue, "firing", SECOND_PROBE)
            arrived, incident_id = await next_incident(queue, "linked", SECOND_PROBE)
            incident_latencies.append(arrived - sent)
            incident_overheads.append(arrived - fired)
            publish(client, topic, reading(1.0))
            await next_action(queue, "resolved")
            publish(client, second, reading(1.0))
            await next_action(queue, "resolved", SECOND_PROBE)
            await close_incident(http, incident_id)
            await asyncio.sleep(gap)
        reader.cancel()
    await http.aclose()
    client.disconnect()
    client.loop_stop()
    return latencies, incident_latencies, incident_overheads


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def stored_background(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(b"SELECT count(*) FROM readings WHERE sensor_id LIKE 'bg-%%'").fetchone()
        return int(row[0]) if row else 0


def wait_stored(database_url: str, expected: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    count = stored_background(database_url)
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        count = stored_background(database_url)
    return count


def run(plan: Plan) -> int:
    password = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="ioc-bench-alerts-") as tmp, bench_database() as database_url:
        workdir = Path(tmp)
        with mosquitto(workdir) as broker_port, server(workdir, database_url, broker_port, password) as base:
            token = login(base, password)
            ws_url = base.replace("http://", "ws://") + "/api/alerts/stream"
            load = start_load(broker_port, plan)
            latencies, incident_latencies, overheads = asyncio.run(probe_latencies(ws_url, token, broker_port, plan))
            out, _ = load.communicate(timeout=60)  # closes its stdin: it stops
            sent = json.loads(out.decode().strip().splitlines()[-1])
            stored = wait_stored(database_url, int(sent["readings"]))
    published_rate = sent["readings"] / sent["seconds"]
    print(f"probes {len(latencies)}: " + " ".join(f"{x * 1000:.0f}" for x in latencies) + " ms")
    print(
        f"background: published {sent['readings']} in {sent['seconds']:.1f} s ({published_rate:.0f}/s), stored {stored}"
    )
    print(f"RESULT alert_latency_p50_ms {percentile(latencies, 0.50) * 1000:.1f} ms")
    print(f"RESULT alert_latency_p99_ms {percentile(latencies, 0.99) * 1000:.1f} ms")
    print("incident probes: " + " ".join(f"{x * 1000:.0f}" for x in incident_latencies) + " ms")
    print(f"RESULT incident_open_latency_p50_ms {percentile(incident_latencies, 0.50) * 1000:.1f} ms")
    print(f"RESULT incident_open_latency_p99_ms {percentile(incident_latencies, 0.99) * 1000:.1f} ms")
    print(f"RESULT incident_after_alert_p99_ms {percentile(overheads, 0.99) * 1000:.1f} ms")
    print(f"RESULT alert_background_readings_per_s {stored / sent['seconds']:.0f} readings/s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--rate", type=int, default=5000, help="background readings per second")
    parser.add_argument("--seconds", type=float, default=None, help="measurement time")
    parser.add_argument("--load-port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_port is not None:
        return run_load(args.load_port, args.rate, args.seconds)
    seconds = args.seconds or (12.0 if args.quick else 60.0)
    probes = 40 if args.quick else 300
    return run(Plan(rate=args.rate, seconds=seconds, probes=probes, warmup_s=3.0))


if __name__ == "__main__":
    raise SystemExit(main())
