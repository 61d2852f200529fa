-- Server time of an alert's first push to responders: escalation counts from it, not from the
-- device time of the reading that fired it (a late reading must not escalate at once).

ALTER TABLE alerts ADD COLUMN notified_at timestamptz;
