-- drydock server store, version 1. Times are RFC 3339 UTC text with
-- microseconds (they sort as strings); JSON documents are text.
CREATE TABLE images (
    digest      TEXT PRIMARY KEY,
    repository  TEXT NOT NULL DEFAULT '',
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    target      TEXT NOT NULL,
    inventory   TEXT NOT NULL,
    findings    TEXT NOT NULL,
    db_facts    TEXT NOT NULL DEFAULT '',
    db_updated  TEXT NOT NULL DEFAULT '',
    last_scan   TEXT NOT NULL DEFAULT '',
    critical    INTEGER NOT NULL DEFAULT 0,
    high        INTEGER NOT NULL DEFAULT 0,
    medium      INTEGER NOT NULL DEFAULT 0,
    low         INTEGER NOT NULL DEFAULT 0,
    negligible  INTEGER NOT NULL DEFAULT 0,
    unknown     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX images_repository ON images (repository);

CREATE TABLE image_tags (
    digest      TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    repository  TEXT NOT NULL,
    tag         TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (digest, repository, tag)
);
CREATE INDEX image_tags_name ON image_tags (repository, tag);

CREATE TABLE image_packages (
    digest   TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    pkey     TEXT NOT NULL,
    type     TEXT NOT NULL,
    name     TEXT NOT NULL,
    version  TEXT NOT NULL,
    purl     TEXT NOT NULL,
    path     TEXT NOT NULL,
    layer    TEXT NOT NULL
);
CREATE INDEX image_packages_pkey ON image_packages (pkey);
CREATE INDEX image_packages_digest ON image_packages (digest);

CREATE TABLE image_vulns (
    digest          TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    vuln_id         TEXT NOT NULL,
    finding_id      TEXT NOT NULL,
    severity        TEXT NOT NULL,
    status          TEXT NOT NULL,
    package_type    TEXT NOT NULL,
    package_name    TEXT NOT NULL,
    package_version TEXT NOT NULL,
    purl            TEXT NOT NULL,
    path            TEXT NOT NULL,
    layer           TEXT NOT NULL,
    fixed_versions  TEXT NOT NULL
);
CREATE INDEX image_vulns_id ON image_vulns (vuln_id);
CREATE INDEX image_vulns_digest ON image_vulns (digest);

CREATE TABLE scans (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    ref          TEXT NOT NULL,
    status       TEXT NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    digest       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    started_at   TEXT NOT NULL DEFAULT '',
    finished_at  TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    db_built     TEXT NOT NULL DEFAULT '',
    db_updated   TEXT NOT NULL DEFAULT '',
    upload_path  TEXT NOT NULL DEFAULT '',
    report       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX scans_digest ON scans (digest, finished_at);
CREATE INDEX scans_status ON scans (status);

CREATE TABLE events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    type     TEXT NOT NULL,
    digest   TEXT NOT NULL DEFAULT '',
    vuln_id  TEXT NOT NULL DEFAULT '',
    data     TEXT NOT NULL
);
CREATE INDEX events_at ON events (at);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used  TEXT NOT NULL DEFAULT '',
    revoked    INTEGER NOT NULL DEFAULT 0
);
