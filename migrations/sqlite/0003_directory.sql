-- Expertise profiles and the directory.

-- The structured profile of a local organisation (JSON, validated by the application).
ALTER TABLE orgs ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';

-- One row per organisation this instance can list: its own, and remote ones it learned of.
-- List fields are ';'-joined codes; `terms` holds their labels for full-text search.
CREATE TABLE directory (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    actor           TEXT NOT NULL UNIQUE,
    org_id          BIGINT REFERENCES orgs (id),
    handle          TEXT NOT NULL,
    domain          TEXT NOT NULL,
    profile_url     TEXT NOT NULL,
    name            TEXT NOT NULL,
    summary         TEXT NOT NULL,
    kinds           TEXT NOT NULL,
    themes          TEXT NOT NULL,
    communities     TEXT NOT NULL,
    places          TEXT NOT NULL,
    place_names     TEXT NOT NULL,
    ways            TEXT NOT NULL,
    offers          TEXT NOT NULL,
    languages       TEXT NOT NULL,
    terms           TEXT NOT NULL,
    website         TEXT,
    listed_in       TEXT NOT NULL,
    listed          INTEGER NOT NULL,
    sort_name       TEXT NOT NULL,
    changed_at      BIGINT NOT NULL
);
CREATE INDEX directory_changed ON directory (changed_at);

CREATE VIRTUAL TABLE directory_fts USING fts5(
    name, summary, terms, content = 'directory', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER directory_ai AFTER INSERT ON directory BEGIN
    INSERT INTO directory_fts (rowid, name, summary, terms) VALUES (new.id, new.name, new.summary, new.terms);
END;
CREATE TRIGGER directory_ad AFTER DELETE ON directory BEGIN
    INSERT INTO directory_fts (directory_fts, rowid, name, summary, terms) VALUES ('delete', old.id, old.name, old.summary, old.terms);
END;
CREATE TRIGGER directory_au AFTER UPDATE ON directory BEGIN
    INSERT INTO directory_fts (directory_fts, rowid, name, summary, terms) VALUES ('delete', old.id, old.name, old.summary, old.terms);
    INSERT INTO directory_fts (rowid, name, summary, terms) VALUES (new.id, new.name, new.summary, new.terms);
END;

-- Bumped by every directory write, so each process's in-memory index notices changes made
-- elsewhere even within the same millisecond.
CREATE TABLE directory_state (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO directory_state (id, version) VALUES (1, 0);
