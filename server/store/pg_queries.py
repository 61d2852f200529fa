"""Read queries behind one API: `time_bucket` on TimescaleDB, `date_bin` on plain PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from server.db.timescale import DatabaseFeatures
from server.store.base import Bucket, DeadLetterScope, EventQuery
from server.store.records import (
    EVENT_FIELDS,
    StoredCameraStatus,
    StoredDeadLetter,
    StoredEvent,
    StoredReading,
    StoredSnapshot,
)
from server.store.sql import EVENT_COLUMNS

_ORIGIN = "TIMESTAMPTZ '2000-01-01'"
_GROUP_COLUMNS = {"zone": "zone", "line": "line", "label": "label", "line_label": "line"}
_GROUP_SUFFIX = {"line_label": " || '/' || coalesce(label, '')"}
"""`line_label`: a line, its direction and the object's label (`bridge/in/person`)"""


def _event(row: Sequence[Any]) -> StoredEvent:
    values = dict(zip(EVENT_FIELDS, row, strict=True))
    box = tuple(float(v) for v in values["box"]) if values["box"] is not None else None
    values["box"] = box if box is None or len(box) == 4 else None
    return StoredEvent(**values)


class PgQueries:
    def __init__(self, pool: AsyncConnectionPool, features: DatabaseFeatures) -> None:
        self._pool = pool
        self.features = features

    def bucket_expr(self, column: str) -> str:
        """`time_bucket(%(width)s, col)` or `date_bin(%(width)s, col, origin)`: the same buckets."""
        if self.features.timescale:
            return f"time_bucket(%(width)s::interval, {column}, {_ORIGIN})"
        return f"date_bin(%(width)s::interval, {column}, {_ORIGIN})"

    async def _fetch(self, query: str, params: Any) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query.encode(), params)
            return list(await cursor.fetchall())

    async def readings_raw(self, sensor_id: str, start: datetime, end: datetime, limit: int) -> list[StoredReading]:
        rows = await self._fetch(
            "SELECT sensor_id, time, value, received_at, quality FROM readings"
            " WHERE sensor_id = %s AND time >= %s AND time < %s ORDER BY time LIMIT %s",
            (sensor_id, start, end, limit),
        )
        return [StoredReading(*row) for row in rows]

    async def readings_flagged(self, sensor_id: str, start: datetime, end: datetime, limit: int) -> list[StoredReading]:
        """Calibrating and error readings in the range (they are not in the rollups)."""
        rows = await self._fetch(
            "SELECT sensor_id, time, value, received_at, quality FROM readings WHERE sensor_id = %s"
            " AND quality <> 'normal' AND time >= %s AND time < %s ORDER BY time LIMIT %s",
            (sensor_id, start, end, limit),
        )
        return [StoredReading(*row) for row in rows]

    async def readings_received_after(
        self, since: datetime, after: tuple[datetime, str, datetime] | None, limit: int
    ) -> list[StoredReading]:
        """Readings stored (ingest time) after `since`, in (received_at, sensor_id, time) order;
        `after`: the key of the last row of the previous page."""
        key = after or (since, "", since - timedelta(days=36500))
        rows = await self._fetch(
            "SELECT sensor_id, time, value, received_at, quality FROM readings WHERE received_at > %s"
            " AND (received_at, sensor_id, time) > (%s, %s, %s) ORDER BY received_at, sensor_id, time LIMIT %s",
            (since, *key, limit),
        )
        return [StoredReading(*row) for row in rows]

    async def events_received_after(
        self, since: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[StoredEvent]:
        """Detection events stored after `since`, in (received_at, id) order; `after` as above."""
        key = after or (since, "")
        text = (
            f"SELECT {EVENT_COLUMNS} FROM detection_events WHERE received_at > %s"
            " AND (received_at, id) > (%s, %s) ORDER BY received_at, id LIMIT %s"
        )
        return [_event(row) for row in await self._fetch(text, (since, *key, limit))]

    async def readings_bucketed(
        self, sensor_id: str, start: datetime, end: datetime, bucket: timedelta
    ) -> list[Bucket]:
        """Buckets of at least a minute, from the 1-minute or 1-hour rollups."""
        source = "readings_1h" if bucket >= timedelta(hours=1) and bucket % timedelta(hours=1) == timedelta() else None
        source = source or "readings_1m"
        expr = self.bucket_expr("bucket")
        query = (
            f"SELECT {expr} AS b, min(min), max(max), (sum(sum::numeric) / sum(count))::float8, sum(count),"
            " (array_agg(last ORDER BY last_time DESC))[1]"
            f" FROM {source} WHERE sensor_id = %(sensor)s AND bucket >= %(start)s AND bucket < %(end)s"
            " GROUP BY b ORDER BY b"
        )
        params = {"width": bucket, "sensor": sensor_id, "start": start, "end": end}
        rows = await self._fetch(query, params)
        return [Bucket(r[0], r[1], r[2], float(r[3]), int(r[4]), r[5]) for r in rows]

    async def latest_readings(self, sensor_ids: Sequence[str]) -> dict[str, StoredReading]:
        rows = await self._fetch(
            "SELECT r.sensor_id, r.time, r.value, r.received_at, r.quality FROM unnest(%s::text[]) AS s(id)"
            " CROSS JOIN LATERAL (SELECT * FROM readings WHERE sensor_id = s.id ORDER BY time DESC LIMIT 1) r",
            (list(sensor_ids),),
        )
        return {row[0]: StoredReading(*row) for row in rows}

    async def events(self, query: EventQuery) -> list[StoredEvent]:
        where, params = ["TRUE"], {}
        for name in ("camera_id", "label", "zone", "line", "kind"):
            value = getattr(query, name)
            if value is not None:
                where.append(f"{name} = %({name})s")
                params[name] = value
        if query.start is not None:
            where.append("time >= %(start)s")
            params["start"] = query.start
        if query.end is not None:
            where.append("time < %(end)s")
            params["end"] = query.end
        if query.before is not None:
            where.append("(time, id) < (%(before_time)s, %(before_id)s)")
            params["before_time"], params["before_id"] = query.before
        if query.cameras is not None:
            where.append("camera_id = ANY(%(cameras)s::text[])")
            params["cameras"] = sorted(query.cameras)
        params["limit"] = query.limit
        text = (
            f"SELECT {EVENT_COLUMNS} FROM detection_events WHERE {' AND '.join(where)}"
            " ORDER BY time DESC, id DESC LIMIT %(limit)s"
        )
        return [_event(row) for row in await self._fetch(text, params)]

    async def event(self, event_id: str) -> StoredEvent | None:
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM detection_events WHERE id = %s ORDER BY time DESC LIMIT 1", (event_id,)
        )
        return _event(rows[0]) if rows else None

    async def snapshot(self, sha256: str) -> StoredSnapshot | None:
        rows = await self._fetch(
            "SELECT sha256, content_type, data, width, height FROM snapshots WHERE sha256 = %s", (sha256,)
        )
        return StoredSnapshot(rows[0][0], rows[0][1], bytes(rows[0][2]), rows[0][3], rows[0][4]) if rows else None

    async def camera_statuses(self) -> dict[str, StoredCameraStatus]:
        rows = await self._fetch(
            "SELECT camera_id, worker_id, state, time, received_at, reason, fps_decoded, fps_detected"
            " FROM camera_status",
            (),
        )
        return {row[0]: StoredCameraStatus(*row) for row in rows}

    async def dead_letters(
        self, reason: str | None, limit: int, before_id: int | None, scope: DeadLetterScope | None = None
    ) -> list[tuple[int, StoredDeadLetter]]:
        """Newest first; `scope` (a scoped caller's sensors and topics) is applied before the limit."""
        scoped = scope is not None
        rows = await self._fetch(
            "SELECT id, topic, reason, detail, payload, received_at, sensor_id, payload_size FROM dead_letters"
            " WHERE (%(reason)s::text IS NULL OR reason = %(reason)s)"
            " AND (%(before)s::bigint IS NULL OR id < %(before)s)"
            " AND (NOT %(scoped)s OR sensor_id = ANY(%(sensors)s::text[]) OR topic = ANY(%(topics)s::text[]))"
            " ORDER BY id DESC LIMIT %(limit)s",
            {
                "reason": reason,
                "before": before_id,
                "limit": limit,
                "scoped": scoped,
                "sensors": sorted(scope.sensor_ids) if scope else [],
                "topics": sorted(scope.topics) if scope else [],
            },
        )
        return [
            (row[0], StoredDeadLetter(row[1], row[2], row[3], bytes(row[4]), row[5], row[6], row[7])) for row in rows
        ]

    async def event_counts(
        self,
        camera_id: str | None,
        start: datetime,
        end: datetime,
        bucket: timedelta,
        group: str,
        cameras: frozenset[str] | None = None,
    ) -> list[tuple[datetime, str, str, int]]:
        """Events per bucket, camera and zone / line / label (for line crossings: per direction too;
        `line_label`: per line, direction and label)."""
        column = _GROUP_COLUMNS[group]
        expr = self.bucket_expr("time")
        query = sql.SQL(
            "SELECT "
            + expr
            + " AS b, camera_id, {col} || coalesce('/' || direction, '')"
            + _GROUP_SUFFIX.get(group, "")
            + ", count(*)"
            " FROM detection_events WHERE time >= %(start)s AND time < %(end)s AND {col} IS NOT NULL"
            " AND (%(camera)s::text IS NULL OR camera_id = %(camera)s)"
            " AND (%(cameras)s::text[] IS NULL OR camera_id = ANY(%(cameras)s::text[]))"
            " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).format(col=sql.Identifier(column))
        cameras_list = None if cameras is None else sorted(cameras)
        params = {"width": bucket, "start": start, "end": end, "camera": camera_id, "cameras": cameras_list}
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query, params)
            return [(r[0], r[1], r[2], int(r[3])) for r in await cursor.fetchall()]
