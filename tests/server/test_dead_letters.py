"""A table of malformed payloads (keep it growing): each is dead-lettered with the right reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.config import load_config
from server.ingest.router import MessageRouter
from server.store.base import WriteBatch
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until

NOW = datetime.now(UTC)
FUTURE = (NOW + timedelta(days=2)).isoformat()

# (topic suffix, payload, reason); `{p}` is the topic prefix.
MALFORMED: list[tuple[str, bytes, str]] = [
    ("{p}/sensors/sal-1", b"{not json", "malformed_json"),
    ("{p}/sensors/sal-1", b"\xff\xfe\x00", "malformed_json"),
    ("{p}/sensors/sal-1", b'{"value": "3.2"}', "wrong_type"),
    ("{p}/sensors/sal-1", b'{"value": true}', "wrong_type"),
    ("{p}/sensors/sal-1", b'{"value": null}', "wrong_type"),
    ("{p}/sensors/sal-1", b'{"val": 3.2}', "missing_field"),
    ("{p}/sensors/sal-1", b'{"value": NaN}', "not_finite"),
    ("{p}/sensors/sal-1", b'{"value": Infinity}', "not_finite"),
    ("{p}/sensors/sal-1", b'{"value": 46}', "out_of_range"),
    ("{p}/sensors/sal-1", b'{"value": -0.5}', "out_of_range"),
    ("{p}/sensors/sal-1", json.dumps({"value": 1, "ts": FUTURE}).encode(), "future_time"),
    ("{p}/sensors/sal-1", b'{"value": 1, "ts": "yesterday"}', "bad_time"),
    ("{p}/sensors/sal-1", b'{"value": 1, "ts": "2026-03-01T07:00:00"}', "bad_time"),
    ("{p}/sensors/nobody", b'{"value": 1}', "unknown_sensor"),
    ("{p}/sensors/disabled-1", b'{"value": 1}', "disabled_sensor"),
    ("{p}/somewhere/else", b"1", "unknown_topic"),
    ("{p}/gateways/gw", b'{"readings": [{"sensor": "ghost", "value": 1}]}', "unknown_sensor"),
    ("{p}/gateways/gw", b'{"readings": [{"value": 1}]}', "missing_field"),
    ("{p}/gateways/gw", b'{"readings": []}', "wrong_type"),
    ("{p}/gateways/gw", b"[1, 2]", "wrong_type"),
    ("{p}/sensors/level", b'{"data": {"time": 1767225600}}', "missing_field"),
    ("{p}/sensors/level", b'{"data": {"level_cm": 900, "time": 1767225600}}', "out_of_range"),  # 9 m after conversion
    ("{p}-ext/rain", b"lots", "wrong_type"),
    ("{p}-ext/rain", b"nan", "not_finite"),
    ("{p}-ext/stations/wq", b'{"id": "x", "type": "AirQualityObserved", "salinity": 1}', "entity_mismatch"),
    ("{p}-ext/stations/wq", b'{"id": "x", "type": "WaterQualityObserved", "ph": 7}', "missing_field"),
    (
        "{p}-ext/stations/wq",
        b'{"id": "x", "type": "WaterQualityObserved", "salinity": {"type": "Number"}}',
        "missing_field",
    ),
    ("{p}-ext/stations/wq", b'{"id": "x", "type": "WaterQualityObserved", "salinity": "high"}', "wrong_type"),
    ("{p}-ext/stations/wq", b'"just text"', "wrong_type"),
    (
        "{p}-ext/air/pm",
        b'{"id": "urn:ngsi-ld:AirQualityObserved:other", "type": "AirQualityObserved", "pm25": 1}',
        "entity_mismatch",
    ),
    ("{p}/cameras/gate/events", b'{"v": 1, "id": "short"}', "invalid_event"),
    ("{p}/cameras/gate/events", b"{{", "malformed_json"),
    ("{p}/cameras/ghost/events", b"{}", "unknown_camera"),
    ("{p}/cameras/gate/status", b'{"v": 1, "camera_id": "gate"}', "invalid_status"),
    (
        "{p}/cameras/gate/events",
        json.dumps(
            {"v": 1, "id": "evt-000001", "camera_id": "other", "kind": "zone_enter", "ts": NOW.isoformat()}
        ).encode(),
        "camera_mismatch",
    ),
]

# FIWARE shapes that must be accepted: (topic suffix, payload, sensor, value).
FIWARE_OK: list[tuple[str, bytes, str, float]] = [
    (
        "{p}-ext/stations/wq",
        b'{"id": "urn:ngsi-ld:WaterQualityObserved:dn", "type": "WaterQualityObserved",'
        b' "salinity": {"type": "Number", "value": 3.5},'
        b' "dateObserved": {"type": "DateTime", "value": "2026-03-01T07:00:00+07:00"}}',
        "sal-fiware",
        3.5,
    ),
    (
        "{p}-ext/stations/wq",
        b'{"id": "dn", "type": "WaterQualityObserved", "salinity": 2.25, "dateObserved": "2026-03-01T00:10:00Z"}',
        "sal-fiware",
        2.25,
    ),
    (
        "{p}-ext/stations/wq",
        b'{"id": "urn:ngsi-ld:WaterQualityObserved:dn", "type": "https://smartdatamodels.org/dataModel.Environment/WaterQualityObserved",'
        b' "salinity": {"type": "Property", "value": 4.1, "observedAt": "2026-03-01T00:20:00Z"}, "@context": []}',
        "sal-fiware",
        4.1,
    ),
    (
        "{p}-ext/stations/wq",
        b'{"subscriptionId": "s1", "data": [{"id": "a", "type": "WaterQualityObserved",'
        b' "salinity": {"type": "Number", "value": 1.5}}]}',
        "sal-fiware",
        1.5,
    ),
    (
        "{p}-ext/air/pm",
        b'{"id": "urn:ngsi-ld:AirQualityObserved:hnn", "type": "AirQualityObserved",'
        b' "pm25": {"type": "Property", "value": 42},'
        b' "dateObserved": {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-03-01T00:30:00Z"}}}',
        "pm25",
        42.0,
    ),
]


@pytest.fixture
def router(tmp_path: Path) -> MessageRouter:
    from tests.server.helpers import write_streams

    config = load_config(write_streams(tmp_path, "p"))
    return MessageRouter(config, timedelta(minutes=5), dead_letter_max_bytes=64, snapshot_max_bytes=100_000)


@pytest.mark.parametrize(("topic", "payload", "reason"), MALFORMED)
def test_malformed_payload_is_dead_lettered(router: MessageRouter, topic: str, payload: bytes, reason: str) -> None:
    batch = WriteBatch()
    router.route(topic.format(p="p"), payload, NOW, batch)
    assert batch.readings == [] and batch.events == [] and batch.camera_statuses == []
    assert [letter.reason for letter in batch.dead_letters] == [reason], batch.dead_letters
    letter = batch.dead_letters[0]
    assert letter.payload == payload[:64] and letter.payload_size == len(payload) and letter.detail


@pytest.mark.parametrize(("topic", "payload", "sensor", "value"), FIWARE_OK)
def test_fiware_shapes_are_read(router: MessageRouter, topic: str, payload: bytes, sensor: str, value: float) -> None:
    batch = WriteBatch()
    router.route(topic.format(p="p"), payload, NOW, batch)
    assert batch.dead_letters == []
    assert [(r.sensor_id, r.value) for r in batch.readings] == [(sensor, value)]


def test_fiware_time_comes_from_the_entity(router: MessageRouter) -> None:
    batch = WriteBatch()
    router.route("p-ext/stations/wq", FIWARE_OK[0][1], NOW, batch)
    assert batch.readings[0].time == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_gateway_batch_keeps_good_readings_and_dead_letters_the_rest(router: MessageRouter) -> None:
    payload = json.dumps(
        {
            "readings": [
                {"sensor": "sal-1", "value": 1.0},
                {"sensor": "sal-1", "value": 99},
                {"sensor": "rain", "value": 3},
            ]
        }
    ).encode()
    batch = WriteBatch()
    router.route("p/gateways/gw-7", payload, NOW, batch)
    assert [(r.sensor_id, r.value) for r in batch.readings] == [("sal-1", 1.0), ("rain", 3.0)]
    assert [(d.reason, d.sensor_id) for d in batch.dead_letters] == [("out_of_range", "sal-1")]


async def test_malformed_payloads_reach_the_dead_letter_api(
    pg_database: str, mqtt_broker: object, publisher: Publisher, streams_path: Path, topic_prefix: str
) -> None:
    settings = make_settings(pg_database, mqtt_broker.url, streams_path)  # type: ignore[attr-defined]
    async with running_app(settings) as client:
        messages: list[tuple[str, bytes | str]] = [(t.format(p=topic_prefix), p) for t, p, _ in MALFORMED]
        messages.append((f"{topic_prefix}/sensors/sal-1", b'{"value": 1.5}'))  # ingest goes on
        publisher.publish_all(messages)

        async def done() -> bool:
            return await count_rows(pg_database, "SELECT count(*) FROM readings") == 1 and (
                await count_rows(pg_database, "SELECT count(*) FROM dead_letters") >= len(MALFORMED) - 2
            )

        await wait_until(done, 15, "dead letters")
        page = (await client.get("/api/dead-letters", params={"limit": 1000})).json()
        got = sorted((item["topic"].replace(topic_prefix, "{p}"), item["reason"]) for item in page["items"])
        routed = sorted((t, r) for t, _, r in MALFORMED if not t.startswith("{p}/somewhere"))
        assert [entry for entry in got if not entry[0].startswith("{p}/somewhere")] == routed
        only = (await client.get("/api/dead-letters", params={"reason": "out_of_range"})).json()["items"]
        assert {item["reason"] for item in only} == {"out_of_range"} and len(only) == 3
        metrics = (await client.get("/metrics")).text
        assert 'ioc_ingest_dead_letters_total{reason="not_finite"} 3.0' in metrics
