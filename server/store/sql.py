"""SQL text for the write path. Rollups are updated from the rows that were really new."""

from __future__ import annotations

from server.store.records import EVENT_FIELDS

FLOAT8_MAX = "1.7976931348623157e308"


def finite(numeric: str) -> str:
    """A numeric expression as float8, clamped to the float8 range: a sum of readings near the
    limit (two of 1.7e308 in a minute) stays finite instead of failing the whole batch."""
    return f"least(greatest({numeric}, -{FLOAT8_MAX}::numeric), {FLOAT8_MAX}::numeric)::float8"


_ROLLUP_MERGE = f"""
    ON CONFLICT (sensor_id, bucket) DO UPDATE SET
        min = least(r.min, excluded.min),
        max = greatest(r.max, excluded.max),
        sum = {finite("r.sum::numeric + excluded.sum::numeric")},
        count = r.count + excluded.count,
        last = CASE WHEN excluded.last_time >= r.last_time THEN excluded.last ELSE r.last END,
        last_time = greatest(r.last_time, excluded.last_time)"""

# One statement per batch: the raw rows (binary arrays, duplicates skipped by the primary key),
# the 1-minute deltas of the rows that were really new, the 1-hour deltas from those minute deltas
# (a few hundred rows instead of every reading again), and -- only when some rows were not new --
# the keys of those that were, so the caller can tell new from redelivered. The usual batch
# returns one row, (count of new rows, NULL, NULL): the count gate is evaluated once, before the
# key scan; otherwise also (NULL, sensor_id, time) for every new row. Calibrating and error
# readings are stored but kept out of the rollups.
INSERT_READINGS = (
    """
WITH new_rows AS (
    INSERT INTO readings (sensor_id, time, value, received_at, quality)
    SELECT * FROM unnest(%b::text[], %b::timestamptz[], %b::float8[], %b::timestamptz[], %b::text[])
    ON CONFLICT DO NOTHING
    RETURNING sensor_id, time, value, quality
), minute AS (
    SELECT sensor_id, date_bin('1 minute', time, TIMESTAMPTZ '2000-01-01') AS bucket, min(value) AS min,
           max(value) AS max, """
    + finite("sum(value::numeric)")
    + """ AS sum, count(*) AS count,
           (array_agg(value ORDER BY time DESC))[1] AS last, max(time) AS last_time
    FROM new_rows WHERE quality = 'normal' GROUP BY 1, 2
), m AS (
    INSERT INTO readings_1m AS r (sensor_id, bucket, min, max, sum, count, last, last_time)
    SELECT sensor_id, bucket, min, max, sum, count, last, last_time FROM minute"""
    + _ROLLUP_MERGE
    + """
), h AS (
    INSERT INTO readings_1h AS r (sensor_id, bucket, min, max, sum, count, last, last_time)
    SELECT sensor_id, date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01'), min(min), max(max), """
    + finite("sum(sum::numeric)")
    + """,
           sum(count)::bigint, (array_agg(last ORDER BY last_time DESC))[1], max(last_time)
    FROM minute GROUP BY 1, 2"""
    + _ROLLUP_MERGE
    + """
)
SELECT count(*), NULL::text, NULL::timestamptz FROM new_rows
UNION ALL
SELECT NULL, sensor_id, time FROM new_rows WHERE (SELECT count(*) FROM new_rows) < %b
"""
)

EVENT_COLUMNS = ", ".join(EVENT_FIELDS)

INSERT_EVENT = f"""
INSERT INTO detection_events ({EVENT_COLUMNS})
VALUES ({", ".join(["%s"] * len(EVENT_FIELDS))})
ON CONFLICT DO NOTHING
RETURNING id
"""

INSERT_SNAPSHOT = """
INSERT INTO snapshots (sha256, content_type, data, width, height) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (sha256) DO NOTHING
"""

UPSERT_CAMERA_STATUS = """
INSERT INTO camera_status AS c (camera_id, worker_id, state, time, reason, fps_decoded, fps_detected, received_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (camera_id) DO UPDATE SET
    worker_id = excluded.worker_id, state = excluded.state, time = excluded.time, reason = excluded.reason,
    fps_decoded = excluded.fps_decoded, fps_detected = excluded.fps_detected, received_at = excluded.received_at
WHERE excluded.time >= c.time
"""

UPSERT_EDGE_STATUS = """
INSERT INTO edge_status AS e (worker_id, state, time, cameras, version, received_at)
VALUES (%(worker_id)s, %(state)s, %(time)s, %(cameras)s, %(version)s, %(received_at)s)
ON CONFLICT (worker_id) DO UPDATE SET
    state = excluded.state, time = excluded.time, cameras = excluded.cameras, version = excluded.version,
    received_at = excluded.received_at
"""

COPY_DEAD_LETTERS = (
    "COPY dead_letters (received_at, topic, sensor_id, reason, detail, payload, payload_size) FROM STDIN"
)
