"""Numbers are parsed strictly and stay finite end to end; a disabled sensor's readings are
refused whichever way they come (own topic, gateway, batch on another sensor's topic)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.config import load_config
from contract.numbers import parse_number
from server.ingest.router import MessageRouter
from server.store.base import WriteBatch
from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until, write_streams

NOW = datetime.now(UTC).replace(second=10, microsecond=0)
HUGE_SENSORS = """
  - id: huge
    name: Scaled far
    kind: other
    unit: x
    site: long-phu
    convert: {scale: 1.0e300}
  - id: big
    name: Near the float limit
    kind: other
    unit: x
    site: long-phu
"""


def _streams(directory: Path, prefix: str) -> Path:
    path = write_streams(directory, prefix)
    path.write_text(path.read_text(encoding="utf-8").replace("sensors:\n", "sensors:" + HUGE_SENSORS, 1))
    return path


@pytest.fixture
def router(tmp_path: Path) -> MessageRouter:
    return MessageRouter(load_config(_streams(tmp_path, "p")), timedelta(minutes=5), 64, 100_000)


def _route(router: MessageRouter, topic: str, payload: object) -> WriteBatch:
    batch = WriteBatch()
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    router.route(topic, data, NOW, batch)
    return batch


@pytest.mark.parametrize("text", ["3_2", "１２", "0x1A", "1,5", "", "1e", "--1", "4.2.1"])
def test_parse_number_refuses_what_float_would_guess(text: str) -> None:
    with pytest.raises(ValueError, match="not a decimal number"):
        parse_number(text)


@pytest.mark.parametrize(
    ("text", "value"), [("12", 12.0), (" -0.5 ", -0.5), ("4.2e-3", 0.0042), ("+7", 7.0), (".5", 0.5)]
)
def test_parse_number_reads_decimal_text(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_digit_separators_are_refused_not_stored_as_another_number(router: MessageRouter) -> None:
    batch = _route(router, "p-ext/rain", b"3_2")
    assert batch.readings == [] and [d.reason for d in batch.dead_letters] == ["wrong_type"]


def test_a_conversion_that_overflows_is_refused_as_not_finite(router: MessageRouter) -> None:
    batch = _route(router, "p/sensors/huge", {"value": 1e10})
    assert batch.readings == [] and [d.reason for d in batch.dead_letters] == ["not_finite"]
    assert _route(router, "p/sensors/huge", {"value": 2}).readings[0].value == 2e300


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("p/gateways/gw-1", {"readings": [{"sensor": "disabled-1", "value": 1}, {"sensor": "rain", "value": 2}]}),
        ("p/sensors/sal-1", {"readings": [{"sensor": "disabled-1", "value": 1}, {"sensor": "rain", "value": 2}]}),
        ("p/sensors/batch", {"readings": [{"sensor": "disabled-1", "value": 1}, {"sensor": "rain", "value": 2}]}),
    ],
)
def test_disabled_sensor_is_refused_through_gateways_and_batches(
    router: MessageRouter, topic: str, payload: object
) -> None:
    batch = _route(router, topic, payload)
    assert [(r.sensor_id, r.value) for r in batch.readings] == [("rain", 2.0)]
    assert [(d.reason, d.sensor_id) for d in batch.dead_letters] == [("disabled_sensor", "disabled-1")]


async def test_readings_near_the_float_limit_keep_rollups_finite(
    pg_database: str, mqtt_broker: MosquittoBroker, publisher: Publisher, tmp_path: Path, topic_prefix: str
) -> None:
    settings = make_settings(pg_database, mqtt_broker.url, _streams(tmp_path, topic_prefix))
    topic = f"{topic_prefix}/sensors/big"
    times = [(NOW + timedelta(seconds=s)).isoformat() for s in (1, 2, 3, 4)]
    async with running_app(settings) as client:
        both = {
            "readings": [
                {"sensor": "big", "value": 1.7e308, "ts": times[0]},
                {"sensor": "big", "value": 1.7e308, "ts": times[1]},
            ]
        }
        publisher.publish_all([(topic, json.dumps(both))])  # two in one batch: the minute sum
        await wait_until(lambda: _stored(pg_database, 2), 10, "the first two readings")
        publisher.publish_all([(topic, json.dumps({"value": -1.7e308, "ts": times[2]}))])
        await wait_until(lambda: _stored(pg_database, 3), 10, "the third reading")
        publisher.publish_all([(topic, json.dumps({"value": 1.7e308, "ts": times[3]}))])  # merged into the rollup
        await wait_until(lambda: _stored(pg_database, 4), 10, "the fourth reading")
        assert await count_rows(pg_database, "SELECT count(*) FROM dead_letters") == 0
        start, end = (NOW - timedelta(minutes=1)).isoformat(), (NOW + timedelta(minutes=2)).isoformat()
        response = await client.get("/api/sensors/big/readings", params={"start": start, "end": end, "bucket": "1m"})
        assert response.status_code == 200, response.text
        (bucket,) = response.json()["buckets"]
        assert bucket["count"] == 4 and bucket["max"] == 1.7e308 and bucket["min"] == -1.7e308
        assert bucket["avg"] is not None and math.isfinite(bucket["avg"])
        hourly = await client.get("/api/sensors/big/readings", params={"start": start, "end": end, "bucket": "1h"})
        assert all(b["avg"] is not None for b in hourly.json()["buckets"])


async def _stored(database_url: str, count: int) -> bool:
    return await count_rows(database_url, "SELECT count(*) FROM readings WHERE sensor_id = 'big'") == count
