-- A service version's canary share (0-100) of the calls its stable version would take; NULL:
-- a regular version.
ALTER TABLE hub_services ADD COLUMN canary_percent INTEGER CHECK (canary_percent BETWEEN 0 AND 100);
