"""Helpers for the messaging tests: a native JetStream publisher that retries until the stream
acknowledged every message, readings with distinct device times, jetstream settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from contract.jetstream import MSG_ID_HEADER, reading_msg_id, subject_of
from ioc.natsnode import NatsNode
from server.settings import Settings
from tests.server.helpers import Publisher, count_rows, make_settings, wait_until

logger = logging.getLogger(__name__)

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)

Message = tuple[str, bytes, str]
"""(MQTT topic, payload, Nats-Msg-Id)"""


def readings(prefix: str, count: int, start: int = 0, sensor: str = "sal-1") -> list[Message]:
    """`count` native readings of `sensor`, one per second of device time from BASE + start s."""
    topic = f"{prefix}/sensors/{sensor}"
    out: list[Message] = []
    for i in range(start, start + count):
        at = BASE + timedelta(seconds=i)
        out.append(
            (topic, json.dumps({"value": (i % 400) / 10, "ts": at.isoformat()}).encode(), reading_msg_id(sensor, at))
        )
    return out


def jetstream_settings(database_url: str, node_url: str, mqtt_url: str, config: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "transport": "jetstream",
        "nats_url": node_url,
        "mqtt_protocol": "3.1.1",
        "nats_ack_wait_s": 5,
        "ingest_stall_after_s": 3,
    }
    values.update(overrides)
    return make_settings(database_url, mqtt_url, config, **values)


class NativePublisher:
    """nats-py into JetStream with `Nats-Msg-Id`; each message is resent until the stream acked it."""

    def __init__(self, servers: Sequence[str], window: int = 64) -> None:
        self._servers = list(servers)
        self._window = window
        self._nc: Client | None = None
        self.acked = 0
        self.duplicates = 0
        self.retries = 0

    async def __aenter__(self) -> NativePublisher:
        self._nc = await nats.connect(
            servers=self._servers, max_reconnect_attempts=-1, reconnect_time_wait=0.2, connect_timeout=2
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    async def publish_all(self, messages: Sequence[Message], timeout: float = 90) -> None:
        async def all_of() -> None:
            for start in range(0, len(messages), self._window):
                await asyncio.gather(*(self._publish(m) for m in messages[start : start + self._window]))

        await asyncio.wait_for(all_of(), timeout)

    async def _publish(self, message: Message) -> None:
        assert self._nc is not None
        topic, payload, msg_id = message
        js = self._nc.jetstream(timeout=2)
        while True:
            try:
                ack = await js.publish(subject_of(topic), payload, headers={MSG_ID_HEADER: msg_id})
            except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:  # node away: resend, same id
                self.retries += 1
                logger.debug("resend %s after %s", msg_id, type(exc).__name__)
                await asyncio.sleep(0.2)
                continue
            self.acked += 1
            self.duplicates += int(bool(ack.duplicate))
            return


async def wait_rows(
    database_url: str, expected: int, timeout: float, query: str = "SELECT count(*) FROM readings"
) -> None:
    seen = [0]

    async def enough() -> bool:
        seen[0] = await count_rows(database_url, query)
        return seen[0] >= expected

    try:
        await wait_until(enough, timeout, f"{expected} rows of {query}")
    except AssertionError as exc:
        raise AssertionError(f"{exc} (got {seen[0]})") from None


async def assert_exactly_once(database_url: str, expected: int) -> None:
    await asyncio.sleep(0.5)  # anything redelivered late is a duplicate, not a new row
    rows = await count_rows(database_url, "SELECT count(*) FROM readings")
    distinct = await count_rows(database_url, "SELECT count(DISTINCT (sensor_id, time)) FROM readings")
    assert (rows, distinct) == (expected, expected)
    assert await count_rows(database_url, "SELECT sum(count) FROM readings_1m") == expected


def mqtt_in_thread(
    node: NatsNode, messages: list[tuple[str, bytes | str]], timeout: float = 100
) -> tuple[threading.Thread, list[BaseException]]:
    """Publish `messages` over the node's MQTT listener from a thread; its errors are collected."""
    errors: list[BaseException] = []

    def run() -> None:
        publisher = Publisher("127.0.0.1", node.mqtt_port)
        try:
            publisher.publish_all(messages, timeout=timeout)
        except BaseException as exc:
            errors.append(exc)
        finally:
            publisher.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors
