"""A leader whose alert engine cannot start (a table it restores from is missing) says so on
/health (503, `alerts: down`), retries, and runs once the table is back (real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from server.db.migrate import migrate
from tests.server.alerts.configs import STREAMS_HEAD
from tests.server.helpers import make_settings, running_app, wait_until


async def rename(database_url: str, old: str, new: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(f"ALTER TABLE {old} RENAME TO {new}".encode())


async def test_an_engine_that_fails_to_start_is_reported_down_and_retried(pg_database: str, tmp_path: Path) -> None:
    await migrate(pg_database)
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS_HEAD.format(prefix="unused"))
    settings = make_settings(pg_database, "mqtt://127.0.0.1:1", config, ingest_enabled=False)
    await rename(pg_database, "alert_silences", "alert_silences_away")
    async with running_app(settings) as client:
        down = await client.get("/health")
        assert down.status_code == 503 and down.json()["alerts"] == "down" and down.json()["role"] == "leader"
        assert (await client.get("/api/alerts")).status_code == 503
        await rename(pg_database, "alert_silences_away", "alert_silences")

        async def running() -> bool:
            answer = await client.get("/health")
            return answer.status_code == 200 and answer.json()["alerts"] == "running"

        await wait_until(running, timeout=10, what="the engine started by the retry")
        assert (await client.get("/api/alerts")).status_code == 200
