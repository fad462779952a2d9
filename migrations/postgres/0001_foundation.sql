-- Foundation: organisations, remote actors, follows, updates, the inbox record and the outbox.
-- Times are Unix milliseconds bound from Rust; booleans are BOOLEAN.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE orgs (
    id                          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handle                      TEXT NOT NULL UNIQUE,
    name                        TEXT NOT NULL,
    summary                     TEXT NOT NULL,
    manually_approves_followers BOOLEAN NOT NULL,
    public_lists                BOOLEAN NOT NULL,
    discoverable                BOOLEAN NOT NULL,
    indexable                   BOOLEAN NOT NULL,
    listed_in                   TEXT NOT NULL,
    public_key_pem              TEXT,
    private_key_pem             TEXT,
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL,
    deleted_at                  BIGINT
);

CREATE TABLE remote_actors (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ap_id          TEXT NOT NULL UNIQUE,
    actor_type     TEXT NOT NULL,
    username       TEXT NOT NULL,
    domain         TEXT NOT NULL,
    name           TEXT NOT NULL,
    summary        TEXT NOT NULL,
    url            TEXT,
    inbox          TEXT NOT NULL,
    shared_inbox   TEXT,
    key_id         TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    discoverable   BOOLEAN NOT NULL,
    indexable      BOOLEAN NOT NULL,
    fetched_at     BIGINT NOT NULL,
    deleted_at     BIGINT
);
CREATE INDEX remote_actors_key_id ON remote_actors (key_id);
CREATE INDEX remote_actors_domain ON remote_actors (domain);

-- Remote actors following our organisations.
CREATE TABLE followers (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id       BIGINT NOT NULL REFERENCES orgs (id),
    actor_id     BIGINT NOT NULL REFERENCES remote_actors (id),
    follow_ap_id TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (org_id, actor_id)
);

-- Our organisations following remote actors.
CREATE TABLE following (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id       BIGINT NOT NULL REFERENCES orgs (id),
    actor_id     BIGINT NOT NULL REFERENCES remote_actors (id),
    follow_ap_id TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (org_id, actor_id)
);

CREATE TABLE posts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id       BIGINT NOT NULL REFERENCES orgs (id),
    source       TEXT NOT NULL,
    content_html TEXT NOT NULL,
    tags         TEXT NOT NULL,
    lang         TEXT NOT NULL,
    published    BIGINT NOT NULL,
    updated      BIGINT,
    deleted_at   BIGINT
);
CREATE INDEX posts_org ON posts (org_id, id);

CREATE TABLE interactions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_ap_id TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    actor_id       BIGINT NOT NULL REFERENCES remote_actors (id),
    post_id        BIGINT NOT NULL REFERENCES posts (id),
    created_at     BIGINT NOT NULL
);
CREATE INDEX interactions_post ON interactions (post_id, kind);

-- Remote notes kept for an organisation to read: replies, mentions, posts of those it follows.
CREATE TABLE remote_notes (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ap_id        TEXT NOT NULL UNIQUE,
    actor_id     BIGINT NOT NULL REFERENCES remote_actors (id),
    org_id       BIGINT NOT NULL REFERENCES orgs (id),
    reason       TEXT NOT NULL,
    post_id      BIGINT REFERENCES posts (id),
    content_html TEXT NOT NULL,
    published    BIGINT NOT NULL,
    updated      BIGINT,
    received_at  BIGINT NOT NULL
);
CREATE INDEX remote_notes_org ON remote_notes (org_id, id);

-- Activity ids already processed: replays are acknowledged and not processed twice.
CREATE TABLE received_activities (
    ap_id       TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);

-- The persistent outbox: one row per activity, one delivery row per target inbox.
CREATE TABLE outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ap_id      TEXT NOT NULL,
    org_id     BIGINT REFERENCES orgs (id),
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id       BIGINT NOT NULL REFERENCES outbox (id),
    inbox           TEXT NOT NULL,
    domain          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX deliveries_outbox ON deliveries (outbox_id);

-- Health of each remote instance we deliver to.
CREATE TABLE remote_instances (
    domain           TEXT PRIMARY KEY,
    fail_count       INTEGER NOT NULL,
    first_failure_at BIGINT,
    last_success_at  BIGINT,
    next_retry_at    BIGINT,
    dead             BOOLEAN NOT NULL
);
