"""The PostgreSQL / TimescaleDB store: batched writes in one transaction, queries in `pg_queries`."""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from server.db.timescale import DatabaseFeatures
from server.store import sql
from server.store.base import StoreRejectedError, StoreUnavailableError, WriteBatch, WriteResult
from server.store.pg_queries import PgQueries
from server.store.records import EVENT_FIELDS, StoredEvent, StoredReading

logger = logging.getLogger(__name__)

AsyncCursor = psycopg.AsyncCursor[tuple[object, ...]]


def _event_row(event: StoredEvent) -> tuple[object, ...]:
    """The row in `EVENT_FIELDS` order; the box as a list (PostgreSQL `real[]`)."""
    return tuple(list(event.box) if name == "box" and event.box else getattr(event, name) for name in EVENT_FIELDS)


class PgStore(PgQueries):
    """`Store` on PostgreSQL; uses `time_bucket` when TimescaleDB is present, `date_bin` otherwise."""

    def __init__(self, pool: AsyncConnectionPool, features: DatabaseFeatures) -> None:
        super().__init__(pool, features)

    async def write(self, batch: WriteBatch) -> WriteResult:
        """Write everything in one transaction; return the rows that were new."""
        try:
            async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                await self._write_snapshots(cur, batch)
                readings = await self._write_readings(cur, batch.readings)
                events = await self._write_events(cur, batch.events)
                await self._write_statuses(cur, batch)
                await self._write_dead_letters(cur, batch)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailableError(str(exc)) from exc
        except psycopg.Error as exc:
            raise StoreRejectedError(f"{type(exc).__name__}: {exc}") from exc
        return WriteResult(readings, events)

    async def _write_readings(self, cur: AsyncCursor, readings: list[StoredReading]) -> list[StoredReading]:
        """Insert in one statement with binary array parameters (text arrays cost 4x the client
        CPU: every element is escaped); the database returns keys only when some rows were not new."""
        if not readings:
            return []
        sensor_ids, times, values, received, quality = (list(column) for column in zip(*readings, strict=True))
        await cur.execute(sql.INSERT_READINGS, (sensor_ids, times, values, received, quality, len(readings)))
        rows = await cur.fetchall()
        new = next(int(str(row[0])) for row in rows if row[0] is not None)
        if new == len(readings):
            return readings
        return _first_of_keys(readings, {(str(row[1]), _dt(row[2])) for row in rows if row[0] is None})

    async def _write_events(self, cur: AsyncCursor, events: list[StoredEvent]) -> list[StoredEvent]:
        if not events:
            return []
        await cur.executemany(sql.INSERT_EVENT, [_event_row(event) for event in events], returning=True)
        new_ids: set[str] = set()
        while True:
            row = await cur.fetchone()
            if row is not None:
                new_ids.add(str(row[0]))
            if not cur.nextset():
                break
        return [event for event in events if event.id in new_ids]

    async def _write_snapshots(self, cur: AsyncCursor, batch: WriteBatch) -> None:
        if batch.snapshots:
            rows = [(s.sha256, s.content_type, s.data, s.width, s.height) for s in batch.snapshots]
            await cur.executemany(sql.INSERT_SNAPSHOT, rows)

    async def _write_statuses(self, cur: AsyncCursor, batch: WriteBatch) -> None:
        if batch.camera_statuses:
            rows = [
                (s.camera_id, s.worker_id, s.state, s.time, s.reason, s.fps_decoded, s.fps_detected, s.received_at)
                for s in batch.camera_statuses
            ]
            await cur.executemany(sql.UPSERT_CAMERA_STATUS, rows)
        if batch.edge_statuses:
            await cur.executemany(sql.UPSERT_EDGE_STATUS, batch.edge_statuses)

    async def _write_dead_letters(self, cur: AsyncCursor, batch: WriteBatch) -> None:
        if not batch.dead_letters:
            return
        async with cur.copy(sql.COPY_DEAD_LETTERS) as copy:
            for letter in batch.dead_letters:
                await copy.write_row(
                    (
                        letter.received_at,
                        letter.topic,
                        letter.sensor_id,
                        letter.reason,
                        letter.detail,
                        letter.payload,
                        letter.payload_size if letter.payload_size is not None else len(letter.payload),
                    )
                )


def _first_of_keys(readings: list[StoredReading], new_keys: set[tuple[str, datetime]]) -> list[StoredReading]:
    """The readings whose keys were inserted, each key once: its first occurrence in the batch is
    the row the database kept (a duplicate later in the same statement is skipped)."""
    result: list[StoredReading] = []
    for reading in readings:
        key = (reading.sensor_id, reading.time)
        if key in new_keys:
            new_keys.discard(key)
            result.append(reading)
    return result


def _dt(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value
