-- Resolved alerts whose state is still retained on an MQTT channel: the notifier clears each one
-- (an empty retained message) once the channel's `clear_resolved_after` has passed since it
-- published the resolved state, also across a restart; the row goes when the topic is cleared.

CREATE TABLE alert_retained_resolved (
    channel_id   text        NOT NULL,
    alert_id     uuid        NOT NULL,
    topic        text        NOT NULL,
    published_at timestamptz NOT NULL,
    PRIMARY KEY (channel_id, alert_id)
);
