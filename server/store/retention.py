"""Retention per table from `streams.yaml` (`retention:`): drop chunks on TimescaleDB,
batched deletes on plain PostgreSQL (small batches keep locks and WAL bursts short)."""

from __future__ import annotations

import logging
from datetime import timedelta

from psycopg_pool import AsyncConnectionPool

from contract.config import RetentionSettings
from server.db.timescale import HYPERTABLES, DatabaseFeatures

logger = logging.getLogger(__name__)

DELETE_BATCH = 10_000

# table -> (time column, retention setting)
RETAINED: dict[str, tuple[str, str]] = {
    "readings": ("time", "readings"),
    "readings_1m": ("bucket", "rollups"),
    "readings_1h": ("bucket", "rollups"),
    "detection_events": ("time", "events"),
    "dead_letters": ("received_at", "dead_letters"),
    "alerts": ("started_at", "alerts"),
}


def retention_by_table(settings: RetentionSettings) -> dict[str, timedelta]:
    return {table: getattr(settings, key) for table, (_column, key) in RETAINED.items()}


async def apply_retention(
    pool: AsyncConnectionPool, features: DatabaseFeatures, retention: dict[str, timedelta]
) -> dict[str, int]:
    """Remove data older than each table's retention; returns rows (or chunks) removed per table."""
    removed: dict[str, int] = {}
    for table, keep in retention.items():
        column = RETAINED[table][0]
        if features.timescale and table in HYPERTABLES:
            removed[table] = await _drop_chunks(pool, table, keep)
        else:
            removed[table] = await _delete_batches(pool, table, column, keep)
    if any(removed.values()):
        logger.info("retention removed %s", removed)
    return removed


async def _drop_chunks(pool: AsyncConnectionPool, table: str, keep: timedelta) -> int:
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT count(*) FROM drop_chunks(%s::regclass, older_than => %s)", (table, keep))
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def _delete_batches(pool: AsyncConnectionPool, table: str, column: str, keep: timedelta) -> int:
    """Delete in batches of DELETE_BATCH rows, each its own transaction."""
    condition = f"{column} < now() - %s::interval"
    if table == "alerts":
        condition += " AND state = 'resolved'"
    query = f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {condition} LIMIT {DELETE_BATCH})"
    total = 0
    while True:
        async with pool.connection() as conn:
            cursor = await conn.execute(query.encode(), (keep,))
            total += cursor.rowcount
        if cursor.rowcount < DELETE_BATCH:
            return total
