"""Retention per table from streams.yaml, on both paths: drop_chunks (TimescaleDB) and batched deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import AsyncConnectionPool

from contract.config import RetentionSettings
from server.db.migrate import migrate
from server.store import retention as retention_module
from server.store.retention import apply_retention, retention_by_table
from tests.server.helpers import count_rows

NOW = datetime.now(UTC)


def _insert_history(url: str) -> None:
    with psycopg.connect(url) as conn:
        for days_ago in (1, 20, 45, 400):
            at = NOW - timedelta(days=days_ago)
            conn.execute("INSERT INTO readings (sensor_id, time, value) VALUES ('s', %s, 1)", (at,))
            conn.execute(
                "INSERT INTO readings_1m (sensor_id, bucket, min, max, sum, count, last, last_time)"
                " VALUES ('s', %s, 1, 1, 1, 1, 1, %s)",
                (at, at),
            )
            conn.execute(
                "INSERT INTO detection_events (id, camera_id, time, kind) VALUES (%s, 'c', %s, 'object_seen')",
                (f"evt-{days_ago:08d}", at),
            )
            conn.execute(
                "INSERT INTO dead_letters (received_at, topic, reason, detail, payload, payload_size)"
                " VALUES (%s, 't', 'r', 'd', 'x', 1)",
                (at,),
            )


async def test_retention_removes_only_old_rows(database_url: str, monkeypatch: object) -> None:
    report = await migrate(database_url)
    _insert_history(database_url)
    settings = RetentionSettings(readings="30d", events="10d", dead_letters="100d", rollups="365d")  # type: ignore[arg-type]
    monkeypatch.setattr(retention_module, "DELETE_BATCH", 1)  # type: ignore[attr-defined]
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, open=False) as pool:
        await apply_retention(pool, report.features, retention_by_table(settings))
    # drop_chunks removes whole chunks (7 days): a row a little past the limit may stay, never a young one
    assert await count_rows(database_url, "SELECT count(*) FROM readings") == 2
    assert await count_rows(database_url, "SELECT count(*) FROM detection_events") == 1
    assert await count_rows(database_url, "SELECT count(*) FROM dead_letters") == 3
    assert await count_rows(database_url, "SELECT count(*) FROM readings_1m") == 3
