-- 0004: files the bridge serves to the platform (broadcast attachments), by unguessable token.

CREATE TABLE served_files (
    token          TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    mime           TEXT    NOT NULL,
    data           BLOB    NOT NULL,
    created_at     TEXT    NOT NULL
) WITHOUT ROWID;
