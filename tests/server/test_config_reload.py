"""streams.yaml edits while the server runs: a valid edit changes ingest at once; a broken one is
refused with its lines (API and logs) and the running config keeps working."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until

NEW_SENSOR = """
  - id: sal-new
    name: Salinity added live
    kind: salinity
    unit: "‰"
    site: long-phu
    topic: {prefix}-ext/new-gauge
    payload: {{format: number}}
"""


async def test_valid_edit_applies_and_broken_edit_is_refused(
    pg_database: str,
    mqtt_broker: MosquittoBroker,
    streams_path: Path,
    topic_prefix: str,
    publisher: Publisher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(pg_database, mqtt_broker.url, streams_path, config_reload_interval_s=0.2)
    new_topic = f"{topic_prefix}-ext/new-gauge"

    async def stored(sensor_id: str) -> int:
        return await count_rows(pg_database, "SELECT count(*) FROM readings WHERE sensor_id = %s", sensor_id)

    async def dead_letters(reason: str) -> int:
        return await count_rows(pg_database, "SELECT count(*) FROM dead_letters WHERE reason = %s", reason)

    async with running_app(settings) as client:
        # Before the edit nobody subscribes to the new gauge's topic, so nothing of it is stored.
        publisher.publish_all([(new_topic, b"1.25")])
        publisher.publish_all([(f"{topic_prefix}/sensors/sal-new", json.dumps({"value": 1.0}))])
        await wait_until(lambda: _positive(dead_letters("unknown_sensor")), 10, "unknown sensor dead-lettered")
        assert await stored("sal-new") == 0

        text = streams_path.read_text(encoding="utf-8")
        streams_path.write_text(text.replace("sensors:\n", "sensors:" + NEW_SENSOR.format(prefix=topic_prefix), 1))
        await wait_until(lambda: _status_is(client, error=None, sensors=7), 10, "the reload")
        await wait_until(lambda: _subscribed_and_stored(publisher, new_topic, stored), 15, "the new sensor's reading")

        caplog.set_level(logging.ERROR, logger="server.config_watch")
        broken = streams_path.read_text(encoding="utf-8").replace("kind: rainfall", "kind: rain")
        streams_path.write_text(broken, encoding="utf-8")
        await wait_until(lambda: _has_error(client), 10, "the refused edit")
        status = (await client.get("/api/config/status")).json()
        line = broken.splitlines().index("    kind: rain") + 1
        assert f"{streams_path}:{line}: sensors[" in status["error"]
        assert ".kind: Input should be" in status["error"]
        assert status["sensors"] == 7, "the running config stays"
        assert f"{streams_path}:{line}:" in caplog.text

        # Restoring exactly the running content clears the refusal.
        streams_path.write_text(broken.replace("kind: rain", "kind: rainfall"), encoding="utf-8")
        await wait_until(lambda: _status_is(client, error=None, sensors=7), 10, "the refusal cleared")

        # The running config still ingests, the new sensor included.
        before = await stored("sal-new")
        publisher.publish_all([(new_topic, b"2.5")])
        await wait_until(lambda: _more(stored("sal-new"), before), 10, "ingest after the refused edit")


async def _positive(value: Awaitable[int]) -> bool:
    return await value > 0


async def _more(value: Awaitable[int], than: int) -> bool:
    return await value > than


async def _status_is(client: httpx.AsyncClient, error: str | None, sensors: int) -> bool:
    body = (await client.get("/api/config/status")).json()
    return bool(body["error"] == error and body["sensors"] == sensors)


async def _has_error(client: httpx.AsyncClient) -> bool:
    body = (await client.get("/api/config/status")).json()
    return body["error"] is not None


async def _subscribed_and_stored(publisher: Publisher, topic: str, stored: Callable[[str], Awaitable[int]]) -> bool:
    """Publish again until the new subscription is in place (subscribing is asynchronous)."""
    publisher.publish_all([(topic, b"1.5")])
    return await stored("sal-new") > 0
