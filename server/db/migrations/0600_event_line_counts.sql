-- A line-crossing event carries the line's running counts in both directions, and an occupancy
-- event the zone's threshold it exceeded; the edge has always sent them, now they are kept.

ALTER TABLE detection_events
    ADD COLUMN count_in integer,
    ADD COLUMN count_out integer,
    ADD COLUMN threshold integer;
