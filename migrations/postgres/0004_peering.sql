-- Directory peering between instances (instance actors follow each other), and domain blocks.

CREATE TABLE peers (
    domain           TEXT PRIMARY KEY,
    actor            TEXT NOT NULL,
    inbox            TEXT NOT NULL,
    -- Our follow of their instance actor: none, pending, accepted, rejected.
    outgoing         TEXT NOT NULL,
    outgoing_follow  TEXT,
    -- Their follow of ours: none, pending, accepted, rejected.
    incoming         TEXT NOT NULL,
    incoming_follow  TEXT,
    -- How far the backfill has read their directory (their `updated` times, ms).
    synced_until     BIGINT NOT NULL,
    last_sync_at     BIGINT,
    last_sync_error  TEXT,
    created_at       BIGINT NOT NULL
);

CREATE TABLE domain_blocks (
    domain     TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
