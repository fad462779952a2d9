-- "Join this instance": organisations asking to be hosted, answered by an operator.

CREATE TABLE join_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    handle      TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    message     TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    answered_at BIGINT,
    answered_by TEXT
);
CREATE INDEX join_requests_state ON join_requests (state, id);
