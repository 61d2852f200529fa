"""Fuzz the MQTT ingest with hypothesis: malformed payloads on every topic the server subscribes to
never raise, and every message ends somewhere (rows or a dead letter), never silently dropped;
hostile ones (too deep, too big, not text, the poison corpus) are dead-lettered, every one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.config import load_config
from server.ingest.errors import Reason
from server.ingest.router import MessageRouter
from server.store.base import WriteBatch
from tests.fixtures.poison import CORPUS

CONFIG = load_config(Path(__file__).resolve().parents[2] / "streams.yaml", env={})
RECEIVED = datetime(2026, 3, 1, tzinfo=UTC)


def _router() -> MessageRouter:
    return MessageRouter(CONFIG, timedelta(minutes=5), dead_letter_max_bytes=4096, snapshot_max_bytes=100_000)


def _topics() -> list[str]:
    router = _router()
    topics = router.topics
    concrete = [topics.sensor_topic(sensor) for sensor in CONFIG.sensors]
    concrete += [topics.camera_events(camera.id) for camera in CONFIG.cameras]
    concrete += [topics.camera_status(camera.id) for camera in CONFIG.cameras]
    concrete += [topics.edge_status(worker.id) for worker in CONFIG.edge_workers]
    concrete += [topics.sensor("not-configured"), topics.camera_events("ghost-cam"), f"{topics.prefix}/gateways/gw1"]
    return concrete


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)

# Documents shaped like the real formats, with wrong or hostile values inside.
keys = st.sampled_from(
    [
        "v",
        "value",
        "ts",
        "readings",
        "sensor",
        "data",
        "sal_ppt",
        "time",
        "level_cm",
        "id",
        "type",
        "dateObserved",
        "salinity",
        "pm25",
        "camera_id",
        "kind",
        "box",
        "snapshot",
        "state",
        "worker_id",
    ]
)
shaped = st.recursive(
    json_values,
    lambda children: st.dictionaries(keys, children, max_size=8) | st.lists(children, max_size=4),
    max_leaves=30,
)


def _encode(document: Any) -> bytes:
    return json.dumps(document, allow_nan=True).encode()


payloads = st.binary(max_size=300) | shaped.map(_encode) | json_values.map(_encode)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(_topics()), payload=payloads)
def test_any_payload_is_stored_or_dead_lettered(topic: str, payload: bytes) -> None:
    batch = WriteBatch()
    _router().route(topic, payload, RECEIVED, batch)
    assert len(batch) >= 1, f"message on {topic} vanished: {payload[:80]!r}"
    for letter in batch.dead_letters:
        assert letter.reason and letter.topic == topic
        assert len(letter.payload) <= 4096
    for reading in batch.readings:
        assert reading.value == reading.value, "NaN must never be stored"
        sensor = CONFIG.sensor(reading.sensor_id)
        assert sensor is not None
        if sensor.range is not None:
            assert sensor.range.min <= reading.value <= sensor.range.max


@settings(max_examples=100, deadline=None)
@given(topic=st.text(min_size=1, max_size=80), payload=st.binary(max_size=64))
def test_unknown_topics_are_dead_lettered(topic: str, payload: bytes) -> None:
    batch = WriteBatch()
    _router().route(topic, payload, RECEIVED, batch)
    assert len(batch) >= 1


def _nested(depth: int, opener: bytes, closer: bytes, inner: bytes, closed: bool) -> bytes:
    return opener * depth + inner + (closer * depth if closed else b"")


deep = st.builds(
    _nested,
    st.integers(min_value=33, max_value=20_000),
    st.sampled_from([b"[", b'{"value":', b'{"readings":[', b'{"data":{"level_cm":']),
    st.sampled_from([b"]", b"}", b"]}", b"}}"]),
    st.sampled_from([b"1", b'"x"', b"null", b""]),
    st.booleans(),
)
wrapped_deep = st.builds(lambda prefix, body: prefix + body, st.sampled_from([b'{"v":1,"value":', b"[1,"]), deep)
not_text = st.binary(min_size=1, max_size=400).map(lambda data: b"\xff" + data)  # no UTF-8 text starts with 0xff
too_big = st.integers(min_value=262_145, max_value=400_000).map(
    lambda size: b'{"value":1,"pad":"' + b"x" * size + b'"}'
)
hostile = deep | wrapped_deep | not_text | too_big | st.sampled_from([poison.payload for poison in CORPUS])
KNOWN = {reason.value for reason in Reason} - {Reason.DECODE_FAILED.value}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(topic=st.sampled_from(_topics()), payload=hostile)
def test_every_hostile_payload_is_dead_lettered(topic: str, payload: bytes) -> None:
    batch = WriteBatch()
    _router().route(topic, payload, RECEIVED, batch)
    assert batch.dead_letters, f"hostile message on {topic} not dead-lettered: {payload[:80]!r}"
    assert not (batch.readings or batch.events or batch.camera_statuses or batch.edge_statuses)
    for letter in batch.dead_letters:
        assert letter.reason in KNOWN and letter.detail, letter
        assert letter.payload_size == len(payload)
