-- 0002: the relay: platform events in (inbox), messages out (outbox), subscriptions,
-- incidents and their acknowledgement, mutes, the directory snapshot for change diffs,
-- and notices queued for the platform.

-- Every platform callback, stored before it is acknowledged. dedupe_key makes a
-- redelivered incident (same id and code) a no-op.
CREATE TABLE inbox (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL,   -- report | org-updated | org-deleted | user-updated | user-deleted | notice
    dedupe_key     TEXT    NOT NULL UNIQUE,
    body           TEXT    NOT NULL,   -- JSON as received (validated)
    received_at    TEXT    NOT NULL,
    processed_at   TEXT,               -- NULL: fan-out still to do (org/user events)
    error          TEXT
);
CREATE INDEX inbox_unprocessed ON inbox (id) WHERE processed_at IS NULL;

-- Which platform events a chat (and forum topic) receives.
CREATE TABLE subscriptions (
    chat_id        INTEGER NOT NULL,
    thread_id      INTEGER NOT NULL DEFAULT 0,    -- 0: the chat itself, not a topic
    kind           TEXT    NOT NULL,
    orgs           TEXT    NOT NULL DEFAULT '[]', -- JSON array of org ids (subtrees); empty: all
    levels         TEXT    NOT NULL DEFAULT '[]', -- JSON array of incident levels; empty: all
    created_by     INTEGER,
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (chat_id, thread_id, kind)
) WITHOUT ROWID;

-- Messages the bridge sends on its own, in order per chat.
-- state: pending -> sending -> sent; dead (failed for good); summarized (folded into a
-- mute summary). A row left in 'sending' by a crash is sent again (at least once).
CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY,
    chat_id        INTEGER NOT NULL,
    thread_id      INTEGER NOT NULL DEFAULT 0,
    kind           TEXT    NOT NULL,             -- incidents, user-changes, ..., ack-edit, mute-summary
    payload        TEXT    NOT NULL,             -- JSON: what to send (see bot/relay/outbox.py)
    sort_key       REAL    NOT NULL,             -- order within the chat (normally = id)
    state          TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'summarized')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_at        TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    sent_at        TEXT,
    message_ids    TEXT,                         -- JSON array of Telegram message ids sent
    incident_id    INTEGER,                      -- incidents.id for incident messages
    error          TEXT
);
CREATE INDEX outbox_open ON outbox (chat_id, sort_key) WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_state ON outbox (state);

-- Incidents relayed, and who acknowledged each (first press wins).
CREATE TABLE incidents (
    id             INTEGER PRIMARY KEY,
    dedupe_key     TEXT    NOT NULL UNIQUE,     -- report:<id>:<code>
    body           TEXT    NOT NULL,
    received_at    TEXT    NOT NULL,
    acked_by       INTEGER,
    acked_by_name  TEXT,
    acked_at       TEXT
);

-- Every Telegram message that shows an incident, so an acknowledgement edits them all.
CREATE TABLE incident_messages (
    incident_id    INTEGER NOT NULL REFERENCES incidents (id),
    chat_id        INTEGER NOT NULL,
    message_id     INTEGER NOT NULL,
    PRIMARY KEY (incident_id, chat_id, message_id)
) WITHOUT ROWID;

-- Chats holding their relayed messages until a time.
CREATE TABLE mutes (
    chat_id        INTEGER PRIMARY KEY,
    until          TEXT    NOT NULL,
    set_by         INTEGER,
    set_at         TEXT    NOT NULL
);

-- The directory as last seen, to tell what changed (org/user events, refresh diffs).
CREATE TABLE known_entities (
    kind           TEXT    NOT NULL CHECK (kind IN ('user', 'org')),
    id             INTEGER NOT NULL,
    data           TEXT    NOT NULL,             -- JSON: the fields compared
    updated_at     TEXT    NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

-- Notices to push to the platform (2.15), queued with their chat copies.
CREATE TABLE notice_jobs (
    id             INTEGER PRIMARY KEY,
    body           TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    created_at     TEXT    NOT NULL,
    done_at        TEXT,
    error          TEXT
);
