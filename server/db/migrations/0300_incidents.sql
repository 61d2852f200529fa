-- Incidents: alerts grouped into one case, its SOP ticks and its timeline (every change, with the
-- actor). The escalation position (esc_*) is saved with the notice's alert_outbox rows in one
-- transaction, so a restart mid-escalation neither skips a level nor repeats one.

CREATE TABLE incidents (
    id              uuid        PRIMARY KEY,
    type            text        NOT NULL,
    title           text        NOT NULL,
    site            text,
    state           text        NOT NULL
                    CHECK (state IN ('open', 'acknowledged', 'in_progress', 'resolved', 'closed')),
    severity_set    text        CHECK (severity_set IN ('info', 'warning', 'critical')),
    severity        text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    assignee        text,
    sop_id          text,
    group_key       text,
    override_reason text,
    opened_at       timestamptz NOT NULL,
    opened_by       text        NOT NULL,
    updated_at      timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    resolved_by     text,
    closed_at       timestamptz,
    closed_by       text,
    last_alert_at   timestamptz,
    progressed_at   timestamptz,
    esc_policy      text,
    esc_level       integer     NOT NULL DEFAULT 0,
    esc_round       integer     NOT NULL DEFAULT 0,
    esc_stale       integer     NOT NULL DEFAULT 0,
    esc_next_at     timestamptz
);
CREATE INDEX incidents_active ON incidents (opened_at) WHERE state <> 'closed';
CREATE INDEX incidents_site_opened ON incidents (site, opened_at DESC);

CREATE TABLE incident_alerts (
    incident_id uuid        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    alert_id    uuid        NOT NULL UNIQUE,
    rule_id     text        NOT NULL,
    subject     text        NOT NULL,
    severity    text        NOT NULL,
    state       text        NOT NULL,
    linked_at   timestamptz NOT NULL,
    PRIMARY KEY (incident_id, alert_id)
);

CREATE TABLE incident_steps (
    incident_id uuid        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    step_id     text        NOT NULL,
    done_by     text        NOT NULL,
    done_at     timestamptz NOT NULL,
    PRIMARY KEY (incident_id, step_id)
);

CREATE TABLE incident_timeline (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id uuid        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    kind        text        NOT NULL,
    actor       text,
    text        text,
    data        jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, id);

-- A note per shift: the open incidents as they stood, what was done, free text; the next shift
-- acknowledges it.
CREATE TABLE handover_notes (
    id              uuid        PRIMARY KEY,
    site            text,
    author          text        NOT NULL,
    created_at      timestamptz NOT NULL,
    text            text        NOT NULL,
    items           jsonb       NOT NULL,
    acknowledged_by text,
    acknowledged_at timestamptz
);
CREATE INDEX handover_notes_created ON handover_notes (created_at DESC);
