-- The alert engine's own state beside storage's `alerts` / `alert_history` (0002).

ALTER TABLE alerts
    ADD COLUMN fired_at         timestamptz,
    ADD COLUMN resolved_by      text,
    ADD COLUMN members          text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN pending_members  text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN last_notified_at timestamptz,
    ADD COLUMN escalated_at     timestamptz,
    ADD COLUMN muted_by         text;

ALTER TABLE alert_history
    ADD COLUMN action text,
    ADD COLUMN value  double precision;

-- Phase of each (rule, subject): a restart neither loses a firing alert nor fires it twice.
CREATE TABLE alert_rule_state (
    rule_id    text        NOT NULL,
    subject    text        NOT NULL,
    phase      text        NOT NULL CHECK (phase IN ('idle', 'pending', 'firing', 'clearing')),
    since      timestamptz,
    fired_at   timestamptz,
    value      double precision,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, subject)
);

CREATE TABLE alert_silences (
    id         text        PRIMARY KEY,
    matchers   jsonb       NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    author     text        NOT NULL,
    reason     text        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX alert_silences_ends ON alert_silences (ends_at);

-- Webhook deliveries that failed `max_attempts` times.
CREATE TABLE alert_dead_deliveries (
    delivery_id uuid        PRIMARY KEY,
    channel_id  text        NOT NULL,
    alert_id    uuid        NOT NULL,
    action      text        NOT NULL,
    attempts    integer     NOT NULL,
    error       text        NOT NULL,
    time        timestamptz NOT NULL
);
CREATE INDEX alert_dead_deliveries_time ON alert_dead_deliveries (time DESC);
