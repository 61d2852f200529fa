"""MQTT consumer benchmark: CPU per message of each client draining the same pre-filled
Mosquitto session (MQTT 5, persistent session, QoS 1, every message acknowledged after its
handler ran, counted exactly).

    python bench/mqtt_consumer.py [--quick] [--messages N]

Consumers, each on its own session holding the same N messages (~80-byte JSON readings):
  paho_bare      paho 2.x, manual ack from `on_message` after parsing (orjson)
  paho_server    the server's path: `MqttSubscriber` -> `InboundBuffer` -> asyncio, parsed there,
                 acknowledged in batches from the loop (as after a commit)
  gmqtt          gmqtt, a coroutine handler that parses; PUBACK when it returns
                 (`optimistic_acknowledgement=False`)
  gmqtt_deferred gmqtt as the server would need it: the handler queues the message and awaits a
                 future that a drain loop resolves in batches (as after a commit); then the PUBACK
RESULT lines: `<consumer>_cpu_us_per_msg`, `<consumer>_msgs_per_s`, and
`gmqtt_vs_paho_server_cpu_ratio` (gmqtt_deferred CPU / the server path's CPU, same run: the
comparison that decides the server's consumer).
CPU is this process's (`time.process_time`, all threads); the broker runs apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract.mqttclient import make_client  # noqa: E402
from contract.mqtturl import MqttEndpoint  # noqa: E402
from ioc.netutil import free_port, wait_for_port  # noqa: E402
from server.ingest.buffer import InboundBuffer  # noqa: E402
from server.ingest.mqtt import MqttSubscriber  # noqa: E402
from server.metrics import Metrics  # noqa: E402

TOPIC = "bench/sensors/s"
RECEIVE_MAXIMUM = 2000
TIMEOUT_S = 120


@contextmanager
def mosquitto(workdir: Path) -> Iterator[int]:
    port = free_port()
    config = workdir / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "max_queued_messages 10000000",
             "max_queued_bytes 0", "max_inflight_messages 0"]  # fmt: skip
    if os.geteuid() == 0:
        lines.append("user root")
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _paho(client_id: str) -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True)


def _connect_properties() -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    return properties


def create_session(port: int, client_id: str) -> None:
    """Subscribe once and leave: the broker keeps what arrives for `client_id`."""
    client = _paho(client_id)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", port, clean_start=False, properties=_connect_properties())
    client.loop_start()
    client.subscribe(TOPIC, qos=1)
    if not subscribed.wait(10):
        raise RuntimeError("no SUBACK")
    client.disconnect()
    client.loop_stop()


def prefill(port: int, count: int) -> None:
    client = make_client(MqttEndpoint("127.0.0.1", port), f"fill-{uuid.uuid4().hex[:6]}", protocol="5")
    acked: set[int] = set()
    lock = threading.Lock()

    def on_publish(_c: object, _u: object, mid: int, _r: object, _p: object) -> None:
        with lock:
            acked.add(mid)

    client.on_publish = on_publish
    client.max_inflight_messages_set(500)
    client.max_queued_messages_set(5000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    mids = set()
    for i in range(count):
        payload = orjson.dumps({"v": 1, "value": i / 10, "ts": "2026-03-01T00:30:00Z", "i": i})
        while (info := client.publish(TOPIC, payload, qos=1)).rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            time.sleep(0.005)
        mids.add(info.mid)
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        with lock:
            if mids <= acked:
                break
        if time.monotonic() > deadline:
            raise RuntimeError("prefill not acknowledged")
        time.sleep(0.01)
    client.disconnect()
    client.loop_stop()


def measure(name: str, count: int, drain: Callable[[], set[int]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    seen = drain()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if seen != set(range(count)):
        raise RuntimeError(f"{name}: {len(seen)} distinct of {count}")
    us, rate = cpu / count * 1e6, count / wall
    print(f"RESULT {name}_cpu_us_per_msg {us:.1f} us")
    print(f"RESULT {name}_msgs_per_s {rate:.0f} msg/s")
    return us, rate


def drain_paho_bare(port: int, client_id: str, count: int) -> set[int]:
    seen: set[int] = set()
    done = threading.Event()
    client = _paho(client_id)

    def on_message(c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        seen.add(orjson.loads(message.payload)["i"])
        c.ack(message.mid, message.qos)
        if len(seen) >= count:
            done.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port, clean_start=False, properties=_connect_properties())
    client.loop_start()
    finished = done.wait(TIMEOUT_S)
    client.disconnect()
    client.loop_stop()
    if not finished:
        raise RuntimeError(f"paho_bare: stalled at {len(seen)}")
    return seen


async def drain_paho_server(port: int, client_id: str, count: int) -> set[int]:
    buffer = InboundBuffer(asyncio.get_running_loop(), 2 * RECEIVE_MAXIMUM + 1000, Metrics())
    subscriber = MqttSubscriber(MqttEndpoint("127.0.0.1", port), client_id, [TOPIC], [], buffer, RECEIVE_MAXIMUM, 3600)
    seen: set[int] = set()
    subscriber.start()
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(seen) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"paho_server: stalled at {len(seen)}")
            if not await buffer.wait(1.0):
                continue
            items = buffer.take(5000)
            seen.update(orjson.loads(item.payload)["i"] for item in items)
            subscriber.ack(items)
    finally:
        subscriber.stop()
    return seen


async def drain_gmqtt(port: int, client_id: str, count: int) -> set[int]:
    from gmqtt import Client  # type: ignore[import-untyped]

    seen: set[int] = set()
    done = asyncio.Event()

    async def on_message(_client: Any, _topic: str, payload: bytes, _qos: int, _properties: Any) -> int:
        seen.add(orjson.loads(payload)["i"])
        if len(seen) >= count:
            done.set()
        return 0  # PubAckReasonCode.SUCCESS: the PUBACK goes out now

    client = Client(client_id, clean_session=False, optimistic_acknowledgement=False,
                    session_expiry_interval=3600, receive_maximum=RECEIVE_MAXIMUM)  # fmt: skip
    client.on_message = on_message
    await client.connect("127.0.0.1", port)
    try:
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
    except TimeoutError:
        raise RuntimeError(f"gmqtt: stalled at {len(seen)}") from None
    finally:
        await asyncio.sleep(0.3)  # the last handlers send their PUBACKs
        await client.disconnect()
    return seen


async def drain_gmqtt_deferred(port: int, client_id: str, count: int) -> set[int]:
    from gmqtt import Client

    loop = asyncio.get_running_loop()
    inbox: list[tuple[bytes, asyncio.Future[None]]] = []
    ready = asyncio.Event()

    async def on_message(_client: Any, _topic: str, payload: bytes, _qos: int, _properties: Any) -> int:
        settled: asyncio.Future[None] = loop.create_future()
        inbox.append((payload, settled))
        ready.set()
        await settled
        return 0

    client = Client(client_id, clean_session=False, optimistic_acknowledgement=False,
                    session_expiry_interval=3600, receive_maximum=RECEIVE_MAXIMUM)  # fmt: skip
    client.on_message = on_message
    seen: set[int] = set()
    await client.connect("127.0.0.1", port)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(seen) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gmqtt_deferred: stalled at {len(seen)}")
            ready.clear()
            if not inbox:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ready.wait(), 1.0)
                continue
            batch, inbox[:] = inbox[:5000], inbox[5000:]
            seen.update(orjson.loads(payload)["i"] for payload, _ in batch)
            for _, settled in batch:
                settled.set_result(None)
            await asyncio.sleep(0)
    finally:
        await asyncio.sleep(0.3)  # the last handlers send their PUBACKs
        await client.disconnect()
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30,000 messages (under a minute)")
    parser.add_argument("--messages", type=int, default=None)
    args = parser.parse_args()
    count = args.messages or (30_000 if args.quick else 100_000)
    names = ["paho_bare", "paho_server", "gmqtt", "gmqtt_deferred"]
    ids = {name: f"{name}-{uuid.uuid4().hex[:6]}" for name in names}
    with tempfile.TemporaryDirectory() as workdir, mosquitto(Path(workdir)) as port:
        for name in names:
            create_session(port, ids[name])
        prefill(port, count)  # one copy of every message in each session
        print(f"# {count} messages queued in each of {len(names)} sessions")
        measure("paho_bare", count, lambda: drain_paho_bare(port, ids["paho_bare"], count))
        server_us, _ = measure(
            "paho_server", count, lambda: asyncio.run(drain_paho_server(port, ids["paho_server"], count))
        )
        measure("gmqtt", count, lambda: asyncio.run(drain_gmqtt(port, ids["gmqtt"], count)))
        deferred_us, _ = measure(
            "gmqtt_deferred", count, lambda: asyncio.run(drain_gmqtt_deferred(port, ids["gmqtt_deferred"], count))
        )
    print(f"RESULT gmqtt_vs_paho_server_cpu_ratio {deferred_us / server_us:.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
