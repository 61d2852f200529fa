"""Observers (the alert engine's hook) see committed data only, once, and sensor availability."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.app import create_app
from server.ingest.observers import IngestObserver, NullObserver
from server.store.records import StoredCameraStatus, StoredEvent, StoredReading
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until, write_streams

NOW = datetime.now(UTC).replace(microsecond=0)


class Recorder:
    """Records every call; checks that the rows are already committed when it is told."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.readings: list[StoredReading] = []
        self.events: list[StoredEvent] = []
        self.statuses: list[StoredCameraStatus] = []
        self.availability: list[tuple[str, bool]] = []
        self.rows_at_call: list[int] = []

    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        self.rows_at_call.append(await count_rows(self.database_url, "SELECT count(*) FROM readings"))
        self.readings.extend(readings)

    async def on_events(self, events: Sequence[StoredEvent]) -> None:
        self.events.extend(events)

    async def on_camera_status(self, status: StoredCameraStatus) -> None:
        self.statuses.append(status)

    async def on_sensor_availability(self, sensor_id: str, online: bool, at: datetime) -> None:
        self.availability.append((sensor_id, online))


class Broken(NullObserver):
    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        raise RuntimeError("observer bug")


def test_protocol_is_satisfied() -> None:
    assert isinstance(Recorder("x"), IngestObserver)
    assert isinstance(NullObserver(), IngestObserver)


async def test_observers_see_committed_new_data_once(
    pg_database: str, mqtt_broker: object, publisher: Publisher, tmp_path: Path, topic_prefix: str
) -> None:
    recorder = Recorder(pg_database)
    streams = write_streams(tmp_path, topic_prefix, interval="0.3s")  # sal-1 offline after 0.9 s of silence
    settings = make_settings(pg_database, mqtt_broker.url, streams)  # type: ignore[attr-defined]
    app = create_app(settings, alerts=False, observers=[Broken(), recorder])
    async with running_app(settings, app) as client:
        sal = f"{topic_prefix}/sensors/sal-1"
        first = json.dumps({"value": 1.0, "ts": NOW.isoformat()})
        publisher.publish_all(
            [(sal, first), (sal, json.dumps({"value": 2.0, "ts": (NOW + timedelta(seconds=1)).isoformat()}))]
        )
        await wait_until(lambda: _has(recorder.readings, 2), 10, "2 observed readings")
        publisher.publish_all([(sal, first)])  # a redelivery: stored once, observed once
        event = {"v": 1, "id": "evt-obs-0001", "camera_id": "gate", "kind": "object_seen", "ts": NOW.isoformat()}
        status = {"v": 1, "camera_id": "gate", "worker_id": "edge-1", "state": "error", "ts": NOW.isoformat()}
        publisher.publish_all(
            [
                (f"{topic_prefix}/cameras/gate/events", json.dumps(event)),
                (f"{topic_prefix}/cameras/gate/status", json.dumps(status)),
            ]
        )
        await wait_until(lambda: _has(recorder.statuses, 1), 10, "the camera status")
        assert [r.value for r in recorder.readings] == [1.0, 2.0]
        assert all(rows >= 1 for rows in recorder.rows_at_call)  # committed before the call
        assert [e.id for e in recorder.events] == ["evt-obs-0001"] and recorder.statuses[0].state == "error"

        assert ("sal-1", True) in recorder.availability
        await wait_until(lambda: _has_item(recorder.availability, ("sal-1", False)), 5, "sal-1 offline")
        sensors = {s["id"]: s for s in (await client.get("/api/sensors")).json()}
        assert sensors["sal-1"]["status"] == "offline"
        publisher.publish_all([(sal, json.dumps({"value": 3.0}))])
        await wait_until(lambda: _has(recorder.readings, 3), 10, "the next reading")
        assert [entry for entry in recorder.availability if entry[0] == "sal-1"] == [
            ("sal-1", True),
            ("sal-1", False),
            ("sal-1", True),
        ]
        assert app.state.ioc.observers.failures >= 2  # the broken observer, logged and counted
        assert await count_rows(pg_database, "SELECT count(*) FROM readings") == 3


async def test_availability_after_restart_counts_from_the_last_stored_reading(
    pg_database: str, mqtt_broker: object, publisher: Publisher, tmp_path: Path, topic_prefix: str
) -> None:
    streams = write_streams(tmp_path, topic_prefix, interval="1h")
    settings = make_settings(pg_database, mqtt_broker.url, streams)  # type: ignore[attr-defined]
    async with running_app(settings):
        publisher.publish_all([(f"{topic_prefix}/sensors/sal-1", json.dumps({"value": 1.0}))])
        await wait_until(lambda: _stored(pg_database), 10, "the reading")
    app = create_app(settings, alerts=False)
    async with running_app(settings, app):
        ingest = app.state.ioc.ingest
        stored = await _received_at(pg_database)
        assert ingest.availability.last_seen("sal-1") == stored, "seeded from the database at start"
        assert ingest.availability.last_seen("pm25") is None, "never reported: silence counts from start"


async def _stored(database_url: str) -> bool:
    return await count_rows(database_url, "SELECT count(*) FROM readings") > 0


async def _received_at(database_url: str) -> object:
    import psycopg

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        row = await (await conn.execute("SELECT received_at FROM readings WHERE sensor_id = 'sal-1'")).fetchone()
        return row[0] if row else None


async def _has(items: list[object], count: int) -> bool:
    await asyncio.sleep(0)
    return len(items) >= count


async def _has_item(items: list[tuple[str, bool]], item: tuple[str, bool]) -> bool:
    await asyncio.sleep(0)
    return item in items
