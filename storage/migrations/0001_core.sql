-- 0001: chats, Telegram users, roles, invites, the audit trail, FSM dialogs.
-- Times are ISO-8601 UTC text, fixed width (see storage/db.py); JSON columns hold
-- standard JSON text.

-- Telegram chats the bot is in (groups, supergroups, channels, private chats).
CREATE TABLE chats (
    chat_id        INTEGER PRIMARY KEY,
    type           TEXT    NOT NULL,
    title          TEXT,
    thread_ids     TEXT    NOT NULL DEFAULT '[]',  -- JSON array: forum topics seen in use
    paused         INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    paused_reason  TEXT,
    paused_at      TEXT,
    migrated_from  INTEGER,                        -- the group id this supergroup replaced
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);

-- Telegram users the bot has seen, and the language each chose with /lang.
CREATE TABLE telegram_users (
    user_id        INTEGER PRIMARY KEY,
    username       TEXT,
    full_name      TEXT    NOT NULL DEFAULT '',
    language_code  TEXT,                           -- as Telegram reports it
    language       TEXT,                           -- chosen with /lang; NULL: follow Telegram
    first_seen     TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL
);
CREATE INDEX telegram_users_username ON telegram_users (lower(username));

-- Who may do what. No row: no role. org_id scopes the grant to that org's subtree.
CREATE TABLE role_grants (
    user_id        INTEGER PRIMARY KEY,            -- Telegram user id
    role           TEXT    NOT NULL CHECK (role IN ('viewer', 'supervisor', 'admin')),
    org_id         TEXT,
    granted_by     INTEGER,
    granted_at     TEXT    NOT NULL
);

-- One-time deep links (/invite) that grant a role to whoever opens them first.
CREATE TABLE invites (
    code           TEXT    PRIMARY KEY,
    role           TEXT    NOT NULL CHECK (role IN ('viewer', 'supervisor', 'admin')),
    org_id         TEXT,
    created_by     INTEGER,
    created_at     TEXT    NOT NULL,
    expires_at     TEXT    NOT NULL,
    used_by        INTEGER,
    used_at        TEXT,
    CHECK ((used_by IS NULL) = (used_at IS NULL))
);
CREATE INDEX invites_unused ON invites (expires_at) WHERE used_at IS NULL;

-- What was done through the bot, by whom, with what result.
CREATE TABLE audit (
    id             INTEGER PRIMARY KEY,
    at             TEXT    NOT NULL,
    actor_id       INTEGER,                        -- NULL: the bridge itself
    action         TEXT    NOT NULL,
    target         TEXT,
    args           TEXT    NOT NULL DEFAULT '{}',  -- JSON object
    result         TEXT    NOT NULL
);
CREATE INDEX audit_at ON audit (at);

-- aiogram FSM: dialogs in progress, so they survive a restart.
CREATE TABLE fsm (
    bot_id                  INTEGER NOT NULL,
    chat_id                 INTEGER NOT NULL,
    user_id                 INTEGER NOT NULL,
    thread_id               INTEGER NOT NULL DEFAULT 0,   -- 0: not in a forum topic
    business_connection_id  TEXT    NOT NULL DEFAULT '',  -- '': none
    destiny                 TEXT    NOT NULL,
    state                   TEXT,
    data                    TEXT    NOT NULL DEFAULT '{}', -- JSON object
    updated_at              TEXT    NOT NULL,
    PRIMARY KEY (bot_id, chat_id, user_id, thread_id, business_connection_id, destiny)
) WITHOUT ROWID;
CREATE INDEX fsm_chat ON fsm (chat_id);
