"""The demo's past: a week of simulated readings for every sensor, written before the server starts,
so that the 7-day and 30-day charts show the tides and the salinity intrusion rising over the week.

Values come from the same station model as the live simulator (`ioc.sim.mekong`), at natural speed,
every `step`; they go through the server's own store (rollups included) after its migrations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from contract.config import StreamsConfig
from ioc.sim.mekong import simulate, station_for
from server.db.migrate import migrate
from server.store.base import WriteBatch
from server.store.pg import PgStore
from server.store.records import StoredReading

HISTORY_DAYS = 7
STEP = timedelta(minutes=10)
BATCH = 5000


def history_readings(config: StreamsConfig, end: datetime, days: int = HISTORY_DAYS) -> Iterator[StoredReading]:
    """Readings every STEP over `days` before `end`; the season rises from 0.55 to 1 (intrusion grows)."""
    start = end - timedelta(days=days)
    count = int((end - start) / STEP)
    for sensor in config.sensors:
        if not sensor.enabled:
            continue
        station = station_for(sensor)
        for index in range(count):
            at = start + index * STEP
            season = 0.55 + 0.45 * index / count
            yield StoredReading(sensor.id, at, round(simulate(station, at, 1.0, season), 3), at)


async def write_history(database_url: str, config: StreamsConfig, days: int = HISTORY_DAYS) -> int:
    """Migrate the database, then write the week; returns the number of readings written."""
    report = await migrate(database_url)
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    written = 0
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, open=False, name="demo-history") as pool:
        store = PgStore(pool, report.features)
        batch: list[StoredReading] = []
        for reading in history_readings(config, end, days):
            batch.append(reading)
            if len(batch) >= BATCH:
                written += len((await store.write(WriteBatch(readings=batch))).readings)
                batch = []
        if batch:
            written += len((await store.write(WriteBatch(readings=batch))).readings)
    return written


def backfill(database_url: str, config: StreamsConfig) -> int:
    return asyncio.run(write_history(database_url, config))
