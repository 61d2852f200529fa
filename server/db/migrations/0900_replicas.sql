-- Server replicas (replica_mode: shared): outbox rows are claimed by one dispatcher at a time, so
-- two dispatchers (an old leader stepping down, the new one starting) never deliver one row twice.
-- A claim holds until `claimed_until` (renewed while its dispatcher runs, cleared when it stops).

ALTER TABLE alert_outbox ADD COLUMN claimed_by text, ADD COLUMN claimed_until timestamptz;
