-- Accounts: staff users, their roles in organisations, sign-in links, API tokens, mail queue,
-- and the append-only audit log.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    is_operator   INTEGER NOT NULL,
    created_at    BIGINT NOT NULL,
    removed_at    BIGINT
);

CREATE TABLE memberships (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    org_id     BIGINT NOT NULL REFERENCES orgs (id),
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);

-- One-time sign-in links (invitations and password resets); only a hash of the secret is kept.
CREATE TABLE login_links (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    purpose    TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- API tokens: scoped to one organisation, or to the operator; only a hash is kept.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    org_id       BIGINT REFERENCES orgs (id),
    operator     INTEGER NOT NULL,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

-- Mail waiting to be sent, written with the event that caused it.
CREATE TABLE mail_queue (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_at     BIGINT NOT NULL,
    sent_at     BIGINT,
    last_error  TEXT
);
CREATE INDEX mail_queue_due ON mail_queue (next_at) WHERE sent_at IS NULL;

-- Who changed what and when. Rows are only ever inserted.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         BIGINT NOT NULL,
    user_id    BIGINT REFERENCES users (id),
    actor      TEXT NOT NULL,
    org_id     BIGINT REFERENCES orgs (id),
    action     TEXT NOT NULL,
    details    TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);
