-- Evidence: event clips uploaded by the edge (stored in a clip store, indexed here), per-operator
-- review state, cases (clips and snapshots grouped for export) and an append-only audit log.

CREATE TABLE evidence_clips (
    id           text        PRIMARY KEY,
    camera_id    text        NOT NULL,
    worker_id    text,
    kind         text        NOT NULL CHECK (kind IN ('event', 'range')),
    request_id   text,
    start_time   timestamptz NOT NULL,
    end_time     timestamptz NOT NULL,
    duration_s   double precision NOT NULL,
    bytes        bigint      NOT NULL,
    sha256       text        NOT NULL,
    store_key    text        NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_clips_camera_time ON evidence_clips (camera_id, start_time);
CREATE INDEX evidence_clips_received ON evidence_clips (received_at);

CREATE TABLE evidence_clip_events (
    clip_id   text NOT NULL REFERENCES evidence_clips (id) ON DELETE CASCADE,
    event_id  text NOT NULL,
    PRIMARY KEY (clip_id, event_id)
);
CREATE INDEX evidence_clip_events_event ON evidence_clip_events (event_id);

CREATE TABLE evidence_reviews (
    event_id     text        NOT NULL,
    reviewer     text        NOT NULL,
    reviewed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, reviewer)
);

CREATE TABLE evidence_cases (
    id          bigserial   PRIMARY KEY,
    title       text        NOT NULL,
    reference   text,
    note        text,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evidence_case_items (
    case_id   bigint NOT NULL REFERENCES evidence_cases (id) ON DELETE CASCADE,
    kind      text   NOT NULL CHECK (kind IN ('clip', 'snapshot')),
    item_id   text   NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, kind, item_id)
);

CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    time        timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    actor_kind  text        NOT NULL,
    role        text        NOT NULL,
    action      text        NOT NULL,
    object      text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    remote      text
);
CREATE INDEX audit_log_time ON audit_log (time);

-- Append-only: no row is ever changed; rows are deleted only by retention, which says so first
-- with SET LOCAL ioc.audit_retention = 'on' in its own transaction.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('ioc.audit_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
