-- Media: pictures and documents we store (content-addressed files in the media directory),
-- attachments on updates, avatars and headers, and the cache of remote pictures.

CREATE TABLE media (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256     TEXT NOT NULL UNIQUE,
    media_type TEXT NOT NULL,
    byte_size  BIGINT NOT NULL,
    width      BIGINT,
    height     BIGINT,
    blurhash   TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE post_attachments (
    post_id     BIGINT NOT NULL REFERENCES posts (id),
    position    BIGINT NOT NULL,
    media_id    BIGINT NOT NULL REFERENCES media (id),
    description TEXT NOT NULL,
    PRIMARY KEY (post_id, position)
);

-- Avatar and header of an organisation: the stored file's name (`<sha256>.<ext>`).
ALTER TABLE orgs ADD COLUMN avatar TEXT;
ALTER TABLE orgs ADD COLUMN header TEXT;

ALTER TABLE remote_actors ADD COLUMN icon_url TEXT;
ALTER TABLE remote_actors ADD COLUMN image_url TEXT;
-- JSON array of {url, mediaType, name} taken from a remote note's attachments.
ALTER TABLE remote_notes ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';

-- Remote pictures we may show, by the SHA-256 of their URL; fetched on first view, re-encoded
-- and kept (the file under cache/) until the cache outgrows its cap.
CREATE TABLE remote_media (
    key        TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    sha256     TEXT,
    media_type TEXT,
    byte_size  BIGINT NOT NULL DEFAULT 0,
    fetched_at BIGINT,
    failed_at  BIGINT,
    last_used  BIGINT NOT NULL
);
CREATE INDEX remote_media_used ON remote_media (last_used);
