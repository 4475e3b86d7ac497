-- drydock server store, version 2 (PostgreSQL): watching registries, notifications,
-- triage and its audit log.

-- An image's verdict under the server's gate ('' before the first, 'pass'
-- or 'fail'), how many of its findings are accepted or false positives
-- (the counts are the open findings), and when it left every watched tag.
ALTER TABLE images ADD COLUMN gate TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN accepted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN gone_at TEXT NOT NULL DEFAULT '';
ALTER TABLE image_tags ADD COLUMN removed_at TEXT NOT NULL DEFAULT '';
CREATE INDEX image_tags_tag ON image_tags (tag);

-- When each finding of each image was first seen, and when a fix for it
-- was first seen (the age of an unfixed finding with a fix).
CREATE TABLE finding_seen (
    digest      TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    fkey        TEXT NOT NULL,
    vuln_id     TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    fix_seen    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (digest, fkey)
);

-- Decisions about findings: accepted (with a reason and an expiry), false
-- positive, or open (assigned). Empty digest, repository, vuln_id or
-- package mean "any".
CREATE TABLE triage (
    id          TEXT PRIMARY KEY,
    digest      TEXT NOT NULL DEFAULT '',
    repository  TEXT NOT NULL DEFAULT '',
    vuln_id     TEXT NOT NULL DEFAULT '',
    package     TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    expires     TEXT NOT NULL DEFAULT '',
    expired_at  TEXT NOT NULL DEFAULT '',
    assignee    TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX triage_key ON triage (digest, repository, vuln_id, package);
CREATE INDEX triage_vuln ON triage (vuln_id);

CREATE TABLE comments (
    id       BIGSERIAL PRIMARY KEY,
    digest   TEXT NOT NULL DEFAULT '',
    vuln_id  TEXT NOT NULL DEFAULT '',
    package  TEXT NOT NULL DEFAULT '',
    author   TEXT NOT NULL,
    body     TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX comments_target ON comments (digest, vuln_id);

-- Every change made through the API, and every expiry.
CREATE TABLE audit (
    id      BIGSERIAL PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT '',
    data    TEXT NOT NULL
);

-- One message of one event to one channel, and its attempts.
CREATE TABLE deliveries (
    id            TEXT PRIMARY KEY,
    event_id      BIGINT NOT NULL,
    channel       TEXT NOT NULL,
    rule          TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_code     INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    delivered_at  TEXT NOT NULL DEFAULT '',
    UNIQUE (event_id, channel)
);
CREATE TABLE delivery_attempts (
    delivery_id  TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    at           TEXT NOT NULL,
    code         INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    duration_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX delivery_attempts_id ON delivery_attempts (delivery_id);

-- What the watcher last saw in the registries.
CREATE TABLE watch_tags (
    repository  TEXT NOT NULL,
    tag         TEXT NOT NULL,
    digest      TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    removed_at  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repository, tag)
);

-- Small shared state (the notifier's event cursor).
CREATE TABLE kv (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- The fleet's open findings by severity, one row a day.
CREATE TABLE trend (
    day         TEXT PRIMARY KEY,
    images      INTEGER NOT NULL,
    critical    INTEGER NOT NULL,
    high        INTEGER NOT NULL,
    medium      INTEGER NOT NULL,
    low         INTEGER NOT NULL,
    negligible  INTEGER NOT NULL,
    unknown     INTEGER NOT NULL
);
