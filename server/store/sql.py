"""SQL text for the write path. Rollups are updated from the rows that were really new."""

from __future__ import annotations

_ROLLUP_UPSERT = """
{name} AS (
    INSERT INTO {table} AS r (sensor_id, bucket, min, max, sum, count, last, last_time)
    SELECT sensor_id, bucket, min(value), max(value), sum(value), count(*),
           (array_agg(value ORDER BY time DESC))[1], max(time)
    FROM (SELECT sensor_id, date_bin('{width}', time, TIMESTAMPTZ '2000-01-01') AS bucket, time, value
          FROM new_rows) AS b
    GROUP BY sensor_id, bucket
    ON CONFLICT (sensor_id, bucket) DO UPDATE SET
        min = least(r.min, excluded.min),
        max = greatest(r.max, excluded.max),
        sum = r.sum + excluded.sum,
        count = r.count + excluded.count,
        last = CASE WHEN excluded.last_time >= r.last_time THEN excluded.last ELSE r.last END,
        last_time = greatest(r.last_time, excluded.last_time)
)"""

INSERT_READINGS = (
    """
WITH new_rows AS (
    INSERT INTO readings (sensor_id, time, value, received_at)
    SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::float8[], %s::timestamptz[])
    ON CONFLICT DO NOTHING
    RETURNING sensor_id, time, value, received_at
),"""
    + _ROLLUP_UPSERT.format(name="m", table="readings_1m", width="1 minute")
    + ","
    + _ROLLUP_UPSERT.format(name="h", table="readings_1h", width="1 hour")
    + """
SELECT sensor_id, time, value, received_at FROM new_rows
"""
)

EVENT_COLUMNS = (
    "id, camera_id, time, kind, worker_id, label, confidence, box, track_id, zone, line, direction, "
    "count, dwell_s, snapshot_sha256, received_at"
)

INSERT_EVENT = f"""
INSERT INTO detection_events ({EVENT_COLUMNS})
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
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
