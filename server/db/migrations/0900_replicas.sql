-- Server replicas (replica_mode: shared): outbox rows are claimed by one dispatcher at a time, so
-- two dispatchers (an old leader stepping down, the new one starting) never deliver one row twice.
-- A claim holds until `claimed_until` (renewed while its dispatcher runs, cleared when it stops).

ALTER TABLE alert_outbox ADD COLUMN claimed_by text, ADD COLUMN claimed_until timestamptz;

-- Operator actions sent to a follower replica: written here (with NOTIFY ioc_alert_command), applied
-- by the leader through its engine, answered in `result` / `error_kind` (NOTIFY ioc_alert_command_done).
-- A command no leader took within the follower's timeout is marked `expired` and never applied.
CREATE TABLE alert_commands (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command     text        NOT NULL,
    args        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    state       text        NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'done', 'failed', 'expired')),
    result      jsonb,
    error_kind  text,
    error       text,
    done_at     timestamptz
);
CREATE INDEX alert_commands_pending ON alert_commands (id) WHERE state = 'pending';
CREATE INDEX alert_commands_created ON alert_commands (created_at);

-- The leader's fencing token: each new leader increments `epoch` (on its lock connection) before
-- its components start; every alert-engine save checks it in its own transaction (FOR SHARE), so
-- a replica that lost leadership but still reaches the database can no longer save a step, and
-- the increment waits for a save still in flight.
CREATE TABLE replica_leader (
    id     boolean     PRIMARY KEY DEFAULT true CHECK (id),
    epoch  bigint      NOT NULL DEFAULT 0,
    holder text,
    since  timestamptz
);
INSERT INTO replica_leader DEFAULT VALUES;
