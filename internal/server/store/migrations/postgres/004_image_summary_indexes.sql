-- drydock server store, version 4 (PostgreSQL): indexes that answer questions about every
-- image without reading its stored inventory and findings.

-- The fleet's open findings by severity (the trend, recorded after each
-- round of notifications): summed from this index alone. Read from the
-- table, every image's row was read whole, its inventory and findings
-- included, since the counts are stored after them.
CREATE INDEX images_trend ON images (gone_at, critical, high, medium, low, negligible, unknown);

-- The images matched against an older database, in digest order (the
-- re-match after each database update pages through them): which ones
-- are stale is read from this index; only those rows are read.
CREATE INDEX images_stale ON images (digest, db_updated);
