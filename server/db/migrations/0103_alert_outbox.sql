-- The alert outbox: one row per (alert change, push channel), written in the same transaction as
-- the change. Notifiers deliver from it and record each attempt, so a restart resumes what was
-- pending; a delivery that gives up moves to `alert_dead_deliveries` (with its payload).

CREATE TABLE alert_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id     uuid        NOT NULL UNIQUE,
    channel_id      text        NOT NULL,
    alert_id        uuid        NOT NULL,
    action          text        NOT NULL,
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    delivered_at    timestamptz
);
CREATE INDEX alert_outbox_pending ON alert_outbox (id) WHERE state = 'pending';
CREATE INDEX alert_outbox_delivered ON alert_outbox (delivered_at) WHERE state = 'delivered';

ALTER TABLE alert_dead_deliveries ADD COLUMN payload jsonb;

-- How far the engine has evaluated stored data (ingest time), written in the same transaction as
-- its state: at start it evaluates what was stored after it, whatever the ingest's ack order.
CREATE TABLE alert_eval_cursor (
    id                   boolean     PRIMARY KEY DEFAULT true CHECK (id),
    readings_received_at timestamptz,
    events_received_at   timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Cheap on append-mostly tables: lets the catch-up find rows received after the cursor.
CREATE INDEX readings_received_brin ON readings USING brin (received_at);
CREATE INDEX detection_events_received_brin ON detection_events USING brin (received_at);
