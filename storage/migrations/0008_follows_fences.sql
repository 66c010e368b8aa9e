-- 0008: live positions in chats (/follow) and geofences (/fence), issue #15.

-- A chat (or forum topic) following a user or a talk group on live locations until
-- ends_at. stopped_at: /unfollow or the Stop button asked to end it; the job stops its live
-- messages and then deletes the row (a stop asked before a crash is still carried out).
-- scope_org: the org subtree whoever started it may see (NULL: everything).
CREATE TABLE follows (
    id             INTEGER PRIMARY KEY,
    chat_id        INTEGER NOT NULL,
    thread_id      INTEGER NOT NULL DEFAULT 0,
    target_kind    TEXT    NOT NULL CHECK (target_kind IN ('user', 'group')),
    target_id      INTEGER NOT NULL,
    scope_org      INTEGER,
    created_by     INTEGER,
    started_at     TEXT    NOT NULL,
    ends_at        TEXT    NOT NULL,
    stopped_at     TEXT
);
-- One running follow of a target per chat/topic; a stopped one may wait beside it.
CREATE UNIQUE INDEX follows_running ON follows (chat_id, thread_id, target_kind, target_id)
    WHERE stopped_at IS NULL;
CREATE INDEX follows_ends ON follows (ends_at);

-- The live location (message_id) and the line above it (caption_message_id) shown for
-- each user of a follow, and the fix last shown (to edit only when it moved, and to say
-- its age). A NULL message id: not sent yet.
CREATE TABLE follow_messages (
    follow_id           INTEGER NOT NULL REFERENCES follows (id) ON DELETE CASCADE,
    user_id             INTEGER NOT NULL,
    message_id          INTEGER,
    caption_message_id  INTEGER,
    last_lat            REAL,
    last_lon            REAL,
    last_fix_at         TEXT,
    PRIMARY KEY (follow_id, user_id)
) WITHOUT ROWID;
CREATE INDEX follow_messages_user ON follow_messages (user_id);

-- A circle (WGS-84 centre, radius in metres). org_id: the creator's org scope (NULL: an
-- unscoped creator); the name is unique within it, compared by name_key (casefolded NFKC).
CREATE TABLE fences (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    name_key       TEXT    NOT NULL,
    lat            REAL    NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon            REAL    NOT NULL CHECK (lon BETWEEN -180 AND 180),
    radius_m       REAL    NOT NULL CHECK (radius_m > 0),
    org_id         INTEGER,
    created_by     INTEGER,
    created_at     TEXT    NOT NULL
);
CREATE UNIQUE INDEX fences_name ON fences (coalesce(org_id, -1), name_key);

-- A chat (or topic) told when a user, or any member of a talk group, enters or leaves a
-- fence. events: 'enter', 'leave' or 'both'.
CREATE TABLE fence_watches (
    fence_id       INTEGER NOT NULL REFERENCES fences (id) ON DELETE CASCADE,
    chat_id        INTEGER NOT NULL,
    thread_id      INTEGER NOT NULL DEFAULT 0,
    target_kind    TEXT    NOT NULL CHECK (target_kind IN ('user', 'group')),
    target_id      INTEGER NOT NULL,
    events         TEXT    NOT NULL CHECK (events IN ('enter', 'leave', 'both')),
    scope_org      INTEGER,
    created_by     INTEGER,
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (fence_id, chat_id, thread_id, target_kind, target_id)
) WITHOUT ROWID;
CREATE INDEX fence_watches_chat ON fence_watches (chat_id);

-- Where each user stands towards each watched fence, as last decided (hysteresis), so a
-- restart neither forgets a crossing half seen nor reports the current side as news.
CREATE TABLE fence_state (
    fence_id       INTEGER NOT NULL REFERENCES fences (id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL,
    inside         INTEGER NOT NULL CHECK (inside IN (0, 1)),
    pending        INTEGER NOT NULL DEFAULT 0 CHECK (pending >= 0),
    last_fix_at    TEXT,
    PRIMARY KEY (fence_id, user_id)
) WITHOUT ROWID;
