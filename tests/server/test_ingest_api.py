"""Publish with paho, read back through the API (plain PostgreSQL and TimescaleDB)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until

NOW = datetime.now(UTC).replace(microsecond=0)
JPEG = b"\xff\xd8\xff\xe0" + b"snapshot-bytes" * 10 + b"\xff\xd9"


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _event(event_id: str, minutes_ago: int, **extra: object) -> bytes:
    body: dict[str, object] = {
        "v": 1,
        "id": event_id,
        "camera_id": "gate",
        "kind": "zone_enter",
        "ts": _iso(NOW - timedelta(minutes=minutes_ago)),
        "label": "person",
        "confidence": 0.9,
        "box": [0.1, 0.2, 0.3, 0.4],
        "track_id": 7,
        "zone": "entrance",
    }
    body.update(extra)
    return json.dumps(body).encode()


async def test_readings_round_trip(
    database_url: str, mqtt_broker: object, publisher: Publisher, streams_path: Path, topic_prefix: str
) -> None:
    settings = make_settings(database_url, mqtt_broker.url, streams_path)  # type: ignore[attr-defined]
    async with running_app(settings) as client:
        messages: list[tuple[str, bytes | str]] = [
            (f"{topic_prefix}/sensors/sal-1", json.dumps({"value": i / 10, "ts": _iso(NOW - timedelta(minutes=i))}))
            for i in range(120)
        ]
        messages.append((f"{topic_prefix}/sensors/level", json.dumps({"data": {"level_cm": 152, "time": 1767225600}})))
        messages.append((f"{topic_prefix}-ext/rain", "12.5"))
        publisher.publish_all(messages)

        async def stored() -> bool:
            return await count_rows(database_url, "SELECT count(*) FROM readings") == 122

        await wait_until(stored, 15, "122 readings")
        sensors = {s["id"]: s for s in (await client.get("/api/sensors")).json()}
        assert sensors["sal-1"]["status"] == "online"
        assert sensors["sal-1"]["last"]["value"] == 0.0
        assert sensors["level"]["last"]["value"] == 1.52  # 152 cm * 0.01
        assert sensors["level"]["last"]["time"].startswith("2026-01-01T00:00:00")
        assert sensors["rain"]["last"]["value"] == 12.5
        assert sensors["pm25"]["status"] == "unknown" and sensors["pm25"]["last"] is None

        start, end = _iso(NOW - timedelta(minutes=59, seconds=30)), _iso(NOW + timedelta(seconds=1))
        raw = (await client.get("/api/sensors/sal-1/readings", params={"start": start, "end": end})).json()
        assert raw["bucket_s"] is None and len(raw["points"]) == 60
        assert raw["points"][-1]["value"] == 0.0

        day = (await client.get("/api/sensors/sal-1/readings", params={"end": end, "max_points": 12})).json()
        assert day["bucket_s"] == 10800  # 24 h in 12 points: 2 h, rounded up to the next size
        assert sum(b["count"] for b in day["buckets"]) == 120
        assert min(b["min"] for b in day["buckets"]) == 0.0 and max(b["max"] for b in day["buckets"]) == 11.9

        fifteen = (await client.get("/api/sensors/sal-1/readings", params={"end": end, "bucket": "15m"})).json()
        assert fifteen["bucket_s"] == 900
        assert sum(b["count"] for b in fifteen["buckets"]) == 120
        for bucket in fifteen["buckets"]:
            assert bucket["min"] <= bucket["avg"] <= bucket["max"]

        bad = await client.get("/api/sensors/sal-1/readings", params={"start": end, "end": start})
        assert bad.status_code == 422 and "must be before" in bad.text
        assert (await client.get("/api/sensors/nope/readings")).status_code == 404
        assert (await client.get("/api/sensors/sal-1/readings", params={"bucket": "7m"})).status_code == 422


async def test_redelivered_readings_stored_once_and_rollups_exact(
    pg_database: str, mqtt_broker: object, publisher: Publisher, streams_path: Path, topic_prefix: str
) -> None:
    settings = make_settings(pg_database, mqtt_broker.url, streams_path)  # type: ignore[attr-defined]
    async with running_app(settings) as client:
        batch = {
            "readings": [{"sensor": "sal-1", "value": v, "ts": _iso(NOW - timedelta(seconds=v))} for v in range(30)]
        }
        for _ in range(3):  # the same gateway message three times: a redelivery
            publisher.publish_all([(f"{topic_prefix}/gateways/gw-1", json.dumps(batch))])

        async def all_messages_done() -> bool:
            metrics = (await client.get("/metrics")).text
            return 'ioc_ingest_duplicates_total{table="readings"} 60.0' in metrics

        await wait_until(all_messages_done, 15, "the duplicates to be seen")
        assert await count_rows(pg_database, "SELECT count(*) FROM readings") == 30
        assert await count_rows(pg_database, "SELECT sum(count) FROM readings_1m") == 30
        assert await count_rows(pg_database, "SELECT sum(count) FROM readings_1h") == 30
        total = await count_rows(pg_database, "SELECT sum(sum)::int FROM readings_1m")
        assert total == sum(range(30))


async def test_events_search_pagination_snapshot_counts(
    request: pytest.FixtureRequest,
    database_url: str,
    mqtt_broker: object,
    publisher: Publisher,
    streams_path: Path,
    topic_prefix: str,
) -> None:
    settings = make_settings(database_url, mqtt_broker.url, streams_path)  # type: ignore[attr-defined]
    snapshot = {"sha256": hashlib.sha256(JPEG).hexdigest(), "data_b64": base64.b64encode(JPEG).decode()}
    topic = f"{topic_prefix}/cameras/gate/events"
    messages: list[tuple[str, bytes | str]] = [(topic, _event(f"evt-{i:05d}", i)) for i in range(25)]
    messages.append((topic, _event("evt-snap-1", 0, snapshot=snapshot)))
    messages.append((topic, _event("evt-line-1", 1, kind="line_crossed", zone=None, line="door", direction="in")))
    messages.append((topic, _event("evt-00001", 1)))  # redelivery of an event already sent
    status = {"v": 1, "camera_id": "gate", "worker_id": "edge-1", "state": "online", "ts": _iso(NOW), "fps_decoded": 5}
    messages.append((f"{topic_prefix}/cameras/gate/status", json.dumps(status)))
    async with running_app(settings) as client:
        publisher.publish_all(messages)

        async def stored() -> bool:
            return await count_rows(database_url, "SELECT count(*) FROM detection_events") == 27

        await wait_until(stored, 15, "27 events")
        page = (await client.get("/api/events", params={"camera": "gate", "zone": "entrance", "limit": 10})).json()
        seen = [item["id"] for item in page["items"]]
        while page["next_cursor"]:
            page = (
                await client.get("/api/events", params={"zone": "entrance", "limit": 10, "cursor": page["next_cursor"]})
            ).json()
            seen += [item["id"] for item in page["items"]]
        assert len(seen) == 26 and len(set(seen)) == 26
        assert seen[:2] == sorted(seen[:2], reverse=True)

        event = (await client.get("/api/events/evt-snap-1")).json()
        assert event["snapshot_url"] == "/api/events/evt-snap-1/snapshot" and event["box"] == [0.1, 0.2, 0.3, 0.4]
        image = await client.get(event["snapshot_url"])
        assert image.status_code == 200 and image.content == JPEG and image.headers["content-type"] == "image/jpeg"
        assert (await client.get("/api/events/evt-00002/snapshot")).status_code == 404
        assert (await client.get("/api/events/..%2F..%2Fetc%2Fpasswd/snapshot")).status_code in (404, 422)
        assert (await client.get("/api/events", params={"cursor": "garbage!"})).status_code == 422

        counts = (await client.get("/api/events/counts", params={"group": "line", "bucket": "1h"})).json()
        assert [(c["key"], c["count"]) for c in counts] == [("door/in", 1)]
        zones = (await client.get("/api/events/counts", params={"group": "zone", "bucket": "1d"})).json()
        assert sum(c["count"] for c in zones) == 26

        cameras = {c["id"]: c for c in (await client.get("/api/cameras")).json()}
        assert cameras["gate"]["state"] == "online" and cameras["gate"]["fps_decoded"] == 5
        # The worker goes silent (its host died; JetStream has no last will): after 2.5 of its
        # stats intervals (30 s by default) the camera is shown offline, with the reason.
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("UPDATE camera_status SET received_at = now() - interval '76 seconds'")
        silent = (await client.get("/api/cameras/gate")).json()
        assert silent["state"] == "offline" and silent["fps_decoded"] is None
        assert re.search(r"no report from edge worker 'edge-1' for 7[67] s \(it reports every 30 s\)", silent["reason"])
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("UPDATE camera_status SET received_at = now() - interval '70 seconds'")
        assert (await client.get("/api/cameras/gate")).json()["state"] == "online", "within 2.5 intervals"

        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["database"] == "up"
        assert health.json()["timescale"] is (request.node.callspec.params["database_url"] == "timescale")
