-- The sites an audited action touched (the sites of its cameras, from streams.yaml at the time),
-- so that a caller scoped to sites lists only its sites' audit rows, in the query itself. Rows
-- written before this column, and actions about no camera, touch no site: only unscoped callers
-- see them.
ALTER TABLE audit_log ADD COLUMN sites text[] NOT NULL DEFAULT '{}';
CREATE INDEX audit_log_sites ON audit_log USING gin (sites);
