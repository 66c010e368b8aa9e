-- 0010: transcripts of recordings from a speech-recognition server (issue #17).

-- One row per recording (recording_key: bot.jobs.recordings.recording_key), transcribed
-- once whatever chats and restarts ask for it. state: 'pending' (queued; next_try_at: not
-- before then, NULL: at once), 'done' (text set), 'failed' (given up; error says why, never
-- a token). begin_at is the recording's start: retention deletes by it.
CREATE TABLE transcripts (
    id            INTEGER PRIMARY KEY,
    recording_key TEXT    NOT NULL UNIQUE,
    user_id       INTEGER,
    account       TEXT,
    group_name    TEXT,
    begin_at      TEXT    NOT NULL,
    seconds       REAL,
    file_url      TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    text          TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_try_at   TEXT,
    error         TEXT,
    created_at    TEXT    NOT NULL,
    done_at       TEXT
);
CREATE INDEX transcripts_user_begin ON transcripts (user_id, begin_at);
CREATE INDEX transcripts_pending ON transcripts (state, next_try_at);
CREATE INDEX transcripts_begin ON transcripts (begin_at);

-- Full-text search over the texts: trigrams find any substring of three characters or
-- more (Chinese has no spaces); shorter words need a LIKE over the candidates.
CREATE VIRTUAL TABLE transcripts_fts USING fts5(
    text, content='transcripts', content_rowid='id', tokenize='trigram'
);

-- The index holds the rows whose text is set, kept in step by these triggers.
CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts
WHEN new.text IS NOT NULL BEGIN
    INSERT INTO transcripts_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts
WHEN old.text IS NOT NULL BEGIN
    INSERT INTO transcripts_fts (transcripts_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

CREATE TRIGGER transcripts_fts_update AFTER UPDATE OF text ON transcripts BEGIN
    INSERT INTO transcripts_fts (transcripts_fts, rowid, text)
        SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL;
    INSERT INTO transcripts_fts (rowid, text)
        SELECT new.id, new.text WHERE new.text IS NOT NULL;
END;
