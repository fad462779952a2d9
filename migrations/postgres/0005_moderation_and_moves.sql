-- Operator hides, reports (Flag), and moving organisations between instances.

-- Actors an operator keeps out of this instance's directory, whatever they consent to.
CREATE TABLE directory_hidden (
    actor      TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Reports received (from other instances) and sent (by our operators).
CREATE TABLE reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    direction   TEXT NOT NULL,
    ap_id       TEXT NOT NULL UNIQUE,
    reporter    TEXT NOT NULL,
    target      TEXT NOT NULL,
    objects     TEXT NOT NULL,
    content     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT
);

-- Moves: the actors an organisation was known as (receiving side), and where it went.
ALTER TABLE orgs ADD COLUMN also_known_as TEXT NOT NULL DEFAULT '';
ALTER TABLE orgs ADD COLUMN moved_to TEXT;
ALTER TABLE orgs ADD COLUMN alias_set_at BIGINT;
