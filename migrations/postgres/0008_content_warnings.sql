-- Content warnings on updates (the Note's summary; media behind it is marked sensitive).
ALTER TABLE posts ADD COLUMN content_warning TEXT;
