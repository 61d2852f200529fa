-- Core schema: readings, rollups, detection events, snapshots, device state, dead letters.
-- Times are timestamptz; device time (`time`) and ingest time (`received_at`) are both kept.

CREATE TABLE readings (
    sensor_id   text             NOT NULL,
    time        timestamptz      NOT NULL,
    value       double precision NOT NULL,
    received_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (sensor_id, time)
);

-- Rollups kept by the service in the same transaction as the raw rows (avg = sum / count).
CREATE TABLE readings_1m (
    sensor_id text             NOT NULL,
    bucket    timestamptz      NOT NULL,
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    sum       double precision NOT NULL,
    count     bigint           NOT NULL,
    last      double precision NOT NULL,
    last_time timestamptz      NOT NULL,
    PRIMARY KEY (sensor_id, bucket)
);

CREATE TABLE readings_1h (LIKE readings_1m INCLUDING ALL);

CREATE TABLE snapshots (
    sha256       text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text        NOT NULL,
    data         bytea       NOT NULL,
    width        integer,
    height       integer,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE detection_events (
    id              text        NOT NULL,
    camera_id       text        NOT NULL,
    time            timestamptz NOT NULL,
    kind            text        NOT NULL,
    worker_id       text,
    label           text,
    confidence      real,
    box             real[],
    track_id        bigint,
    zone            text,
    line            text,
    direction       text,
    count           integer,
    dwell_s         real,
    snapshot_sha256 text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, time)
);
CREATE INDEX detection_events_camera_time ON detection_events (camera_id, time DESC);
CREATE INDEX detection_events_label_time ON detection_events (label, time DESC);
CREATE INDEX detection_events_zone_time ON detection_events (zone, time DESC) WHERE zone IS NOT NULL;
CREATE INDEX detection_events_line_time ON detection_events (line, time DESC) WHERE line IS NOT NULL;

CREATE TABLE camera_status (
    camera_id    text        PRIMARY KEY,
    worker_id    text        NOT NULL,
    state        text        NOT NULL,
    time         timestamptz NOT NULL,
    reason       text,
    fps_decoded  real,
    fps_detected real,
    received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE edge_status (
    worker_id   text        PRIMARY KEY,
    state       text        NOT NULL,
    time        timestamptz,
    cameras     text[]      NOT NULL DEFAULT '{}',
    version     text,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    topic        text        NOT NULL,
    sensor_id    text,
    reason       text        NOT NULL,
    detail       text        NOT NULL,
    payload      bytea       NOT NULL,
    payload_size integer     NOT NULL,
    PRIMARY KEY (id, received_at)
);
CREATE INDEX dead_letters_reason_time ON dead_letters (reason, received_at DESC);
CREATE INDEX dead_letters_time ON dead_letters (received_at DESC);
