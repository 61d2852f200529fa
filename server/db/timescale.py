"""The TimescaleDB step: detect the extension and its edition, make hypertables, never assume.

Plain PostgreSQL needs nothing here: the same tables work, queries use `date_bin`, retention uses
batched deletes. With TimescaleDB (any edition) the time-series tables become hypertables and
retention drops chunks. Compression is used only where the edition allows it (Timescale License).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg

logger = logging.getLogger(__name__)

# table -> (time column, chunk interval)
HYPERTABLES: dict[str, tuple[str, str]] = {
    "readings": ("time", "7 days"),
    "readings_1m": ("bucket", "30 days"),
    "readings_1h": ("bucket", "365 days"),
    "detection_events": ("time", "7 days"),
    "dead_letters": ("received_at", "7 days"),
}


@dataclass(frozen=True)
class DatabaseFeatures:
    timescale: bool = False
    version: str | None = None
    license: str | None = None

    @property
    def compression(self) -> bool:
        return self.timescale and self.license == "timescale"

    @property
    def continuous_aggregates(self) -> bool:
        return self.timescale and self.license == "timescale"


Connection = psycopg.AsyncConnection[tuple[object, ...]]


async def detect_features(conn: Connection) -> DatabaseFeatures:
    cursor = await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    row = await cursor.fetchone()
    if row is None:
        return DatabaseFeatures()
    license_name: str | None = None
    try:
        cursor = await conn.execute("SELECT current_setting('timescaledb.license', true)")
        found = await cursor.fetchone()
        license_name = str(found[0]) if found and found[0] else None
    except psycopg.Error:
        license_name = None
    return DatabaseFeatures(timescale=True, version=str(row[0]), license=license_name or "apache")


async def _create_extension(conn: Connection) -> bool:
    cursor = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    if await cursor.fetchone() is None:
        return False
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        logger.warning("timescaledb is installed but cannot be created (%s); using plain PostgreSQL", exc)
        return False
    return True


async def apply_timescale(conn: Connection) -> DatabaseFeatures:
    """Create the extension when available and turn the time-series tables into hypertables."""
    if not await _create_extension(conn):
        logger.info("TimescaleDB not available: plain PostgreSQL storage")
        return DatabaseFeatures()
    features = await detect_features(conn)
    for table, (column, interval) in HYPERTABLES.items():
        await conn.execute(
            "SELECT create_hypertable(%s::regclass, %s::name, chunk_time_interval => %s::interval,"
            " if_not_exists => true, migrate_data => true)",
            (table, column, interval),
        )
    if features.compression:
        await _enable_compression(conn)
    logger.info("TimescaleDB %s (%s edition): hypertables ready", features.version, features.license)
    return features


async def _enable_compression(conn: Connection) -> None:
    """Timescale License edition only: compress raw readings older than 30 days."""
    try:
        await conn.execute(
            "ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'sensor_id')"
        )
        await conn.execute("SELECT add_compression_policy('readings', INTERVAL '30 days', if_not_exists => true)")
    except psycopg.Error as exc:
        logger.warning("TimescaleDB compression not enabled: %s", exc)
