"""Helpers for the server tests: a streams.yaml per test, a paho publisher, a running app."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from fastapi import FastAPI

from contract.mqttclient import make_client
from contract.mqtturl import MqttEndpoint
from server.app import create_app
from server.settings import Settings
from tests.server.console.keys import api_key_headers

STREAMS_YAML = """
version: 1
mqtt:
  topic_prefix: {prefix}
  shared_group: {group}
sites:
  - id: long-phu
    name: Long Phu
edge_workers:
  - id: edge-1
cameras:
  - id: gate
    name: Gate
    site: long-phu
    worker: edge-1
    source: {{type: rtsp, url: "rtsp://10.0.0.1/x"}}
    zones:
      - id: entrance
        points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]
    lines:
      - id: door
        start: [0.0, 0.5]
        end: [1.0, 0.5]
sensors:
  - id: sal-1
    name: Salinity 1
    kind: salinity
    unit: "‰"
    site: long-phu
    range: {{min: 0, max: 45}}
    expected_interval: {interval}
  - id: sal-fiware
    name: Salinity FIWARE
    kind: salinity
    unit: "‰"
    site: long-phu
    topic: {prefix}-ext/stations/wq
    payload: {{format: fiware, entity_type: WaterQualityObserved, attribute: salinity}}
    range: {{min: 0, max: 45}}
  - id: pm25
    name: PM2.5
    kind: pm25
    unit: "µg/m³"
    site: long-phu
    topic: {prefix}-ext/air/pm
    payload: {{format: fiware, entity_type: AirQualityObserved, attribute: pm25, entity_id: hnn}}
    range: {{min: 0, max: 1000}}
  - id: level
    name: Water level
    kind: water_level
    unit: m
    site: long-phu
    payload: {{format: json, value_path: $.data.level_cm, time_path: $.data.time}}
    convert: {{scale: 0.01}}
    range: {{min: -3, max: 5}}
  - id: rain
    name: Rain
    kind: rainfall
    unit: mm
    site: long-phu
    topic: {prefix}-ext/rain
    payload: {{format: number}}
  - id: disabled-1
    name: Disabled
    kind: other
    unit: x
    site: long-phu
    enabled: false
"""


def write_streams(directory: Path, prefix: str, group: str = "ioc-test", interval: str = "5m") -> Path:
    path = directory / "streams.yaml"
    path.write_text(STREAMS_YAML.format(prefix=prefix, group=group, interval=interval), encoding="utf-8")
    return path


def make_settings(database_url: str, mqtt_url: str, config: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "mqtt_url": mqtt_url,
        "config": config,
        "mqtt_client_id": f"test-{uuid.uuid4().hex[:10]}",
        "batch_max_delay_ms": 20,
        "pool_min_size": 1,
        "pool_max_size": 4,
        "db_timeout_s": 2.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_app(settings: Settings, app: FastAPI | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and an httpx client on its ASGI interface (with an admin API key)."""
    app = app or create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = await api_key_headers(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc", headers=headers) as client:
            await wait_until(lambda: _connected(app), timeout=10, what="MQTT connection")
            yield client


async def _connected(app: FastAPI) -> bool:
    ingest = app.state.ioc.ingest
    return ingest is None or bool(ingest.mqtt_subscribed)  # connected is not enough: SUBACK may be pending


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Publisher:
    """A paho QoS 1 publisher that never loses messages silently (see shared/MQTT.md)."""

    def __init__(self, host: str, port: int, persistent: bool = False) -> None:
        endpoint = MqttEndpoint(host, port)
        self.client = make_client(
            endpoint, f"pub-{uuid.uuid4().hex[:8]}", protocol="3.1.1", clean_session=not persistent
        )
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=1)
        self._acked: set[int] = set()
        self._acked_lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(5000)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        while True:
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: queued, sent on reconnect
                return info
            if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")
            time.sleep(0.01)

    def publish_all(self, messages: list[tuple[str, bytes | str]], timeout: float = 60) -> None:
        """Publish all, then wait until the broker has acknowledged every one."""
        # Not wait_for_publish(): it raises for messages queued while offline, which paho sends later.
        with self._acked_lock:
            self._acked.clear()
        mids = {self.publish(topic, payload).mid for topic, payload in messages}
        deadline = time.monotonic() + timeout
        while True:
            with self._acked_lock:
                missing = len(mids - self._acked)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{missing} messages not acknowledged by the broker after {timeout}s")
            time.sleep(0.01)

    def _on_publish(self, _client: object, _userdata: object, mid: int, _reason: object, _props: object) -> None:
        with self._acked_lock:
            self._acked.add(mid)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def count_rows(database_url: str, query: str, *params: object) -> int:
    import psycopg

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(query.encode(), params)
        row = await cursor.fetchone()
        return int(row[0]) if row else 0
