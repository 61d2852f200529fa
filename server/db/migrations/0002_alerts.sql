-- Alerts and their history: generic tables the alert engine builds on (its own migrations are 0100+).

CREATE TABLE alerts (
    id              uuid        PRIMARY KEY,
    fingerprint     text        NOT NULL,
    rule_id         text        NOT NULL,
    subject         text        NOT NULL,
    site            text,
    state           text        NOT NULL CHECK (state IN ('pending', 'firing', 'acknowledged', 'resolved')),
    severity        text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    summary         text        NOT NULL,
    value           double precision,
    labels          jsonb       NOT NULL DEFAULT '{}',
    started_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    resolved_at     timestamptz,
    acknowledged_by text,
    acknowledged_at timestamptz,
    ack_note        text,
    assignee        text
);
-- At most one open alert per fingerprint.
CREATE UNIQUE INDEX alerts_open_fingerprint ON alerts (fingerprint) WHERE state <> 'resolved';
CREATE INDEX alerts_state_started ON alerts (state, started_at DESC);
CREATE INDEX alerts_rule_started ON alerts (rule_id, started_at DESC);
CREATE INDEX alerts_started ON alerts (started_at DESC);

CREATE TABLE alert_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   uuid        NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    time       timestamptz NOT NULL DEFAULT now(),
    from_state text,
    to_state   text        NOT NULL,
    actor      text,
    note       text
);
CREATE INDEX alert_history_alert_time ON alert_history (alert_id, time);
