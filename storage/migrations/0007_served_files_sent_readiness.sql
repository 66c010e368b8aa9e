-- 0007: a served file is deleted some days after the notice carrying it was sent (or after
-- its upload, for a draft never sent): `sent_at` says when. `readiness` is one row that
-- /readyz rewrites to prove the database takes writes (a read alone passed on a read-only
-- database).
ALTER TABLE served_files ADD COLUMN sent_at TEXT;

CREATE TABLE readiness (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at     TEXT    NOT NULL
);
