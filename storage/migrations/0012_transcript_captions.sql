-- 0012: voice messages waiting for their recording's transcript (issue #17).

-- A voice message the bridge sent (the recordings watch, or ▶ in /recordings) before its
-- recording's transcript was known: when the transcript is stored, the message's caption
-- is edited once to add it (an outbox row queued in the transaction that deletes this
-- one). caption: the caption as sent (HTML); language: the words it was sent in.
CREATE TABLE transcript_captions (
    id             INTEGER PRIMARY KEY,
    recording_key  TEXT    NOT NULL,
    chat_id        INTEGER NOT NULL,
    thread_id      INTEGER NOT NULL DEFAULT 0,
    message_id     INTEGER NOT NULL,
    caption        TEXT    NOT NULL,
    language       TEXT    NOT NULL,
    sent_at        TEXT    NOT NULL,
    UNIQUE (chat_id, message_id)
);
CREATE INDEX transcript_captions_key ON transcript_captions (recording_key);
CREATE INDEX transcript_captions_sent ON transcript_captions (sent_at);
