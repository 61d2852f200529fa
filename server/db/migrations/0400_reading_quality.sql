-- The instrument status of each reading (TT 10/2021 status codes, ChirpStack, a JSON path):
-- 'normal', 'calibrating' or 'error'. Calibrating and error readings are stored and charted as
-- such but left out of the rollups (their min/max/avg describe the instrument, not the water or
-- air) and never reach the alert engine.

ALTER TABLE readings ADD COLUMN quality text NOT NULL DEFAULT 'normal';
ALTER TABLE readings ADD CONSTRAINT readings_quality_known CHECK (quality IN ('normal', 'calibrating', 'error'));

-- Flagged readings are rare (calibration periods, instrument faults): a small partial index lets a
-- bucketed chart show them next to the rollups without scanning the raw rows.
CREATE INDEX readings_flagged ON readings (sensor_id, time) WHERE quality <> 'normal';
