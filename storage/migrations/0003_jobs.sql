-- 0003: scheduled work: presence watches and the presence last told, recordings already
-- relayed, daily attendance reports, and small state the jobs keep (platform health).

-- A chat (or forum topic) that asked to be told when a talk group's members come and go.
-- scope_org: the org subtree whoever set the watch may see (NULL: everything).
CREATE TABLE watches (
    chat_id        INTEGER NOT NULL,
    thread_id      INTEGER NOT NULL DEFAULT 0,
    group_id       INTEGER NOT NULL,
    scope_org      INTEGER,
    created_by     INTEGER,
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (chat_id, thread_id, group_id)
) WITHOUT ROWID;
CREATE INDEX watches_group ON watches (group_id);

-- Presence of each member of a watched group as last told, and a change seen once
-- (candidate) that is told only if the next poll sees it again.
CREATE TABLE presence (
    group_id       INTEGER NOT NULL,
    user_id        INTEGER NOT NULL,
    told           TEXT    NOT NULL CHECK (told IN ('online', 'offline')),
    candidate      TEXT    CHECK (candidate IN ('online', 'offline')),
    updated_at     TEXT    NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- Recordings (2.6) already relayed (or present when their user was first polled), so
-- that each is sent once, across restarts too. rec_key: user id, begin ms, file URL.
CREATE TABLE recordings_seen (
    rec_key        TEXT    PRIMARY KEY,
    user_id        INTEGER,
    begin_at       TEXT    NOT NULL,
    seen_at        TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX recordings_seen_begin ON recordings_seen (begin_at);

-- Users whose recordings are being followed, since when. A user polled for the first
-- time has what the platform lists marked as seen, not sent (no backlog flood).
CREATE TABLE recording_users (
    user_id        INTEGER PRIMARY KEY,
    since          TEXT    NOT NULL
);

-- Daily attendance digests: at at_time (HH:MM in BRIDGE_TIMEZONE) in this chat/topic.
CREATE TABLE reports (
    chat_id        INTEGER NOT NULL,
    thread_id      INTEGER NOT NULL DEFAULT 0,
    at_time        TEXT    NOT NULL,
    org_id         INTEGER,
    created_by     INTEGER,
    created_at     TEXT    NOT NULL,
    last_sent_at   TEXT,
    PRIMARY KEY (chat_id, thread_id)
) WITHOUT ROWID;

-- Small values the jobs keep between runs and restarts (e.g. platform health).
CREATE TABLE job_state (
    key            TEXT    PRIMARY KEY,
    value          TEXT    NOT NULL,   -- JSON
    updated_at     TEXT    NOT NULL
) WITHOUT ROWID;
