-- 0005: recording subscriptions filtered by user and by talk group, besides org, and
-- the subscription kinds presence and attendance made to mean /watch and /report.

-- A recording goes to the chat when its user is one of user_ids, OR a member of one of
-- group_ids, OR in one of the orgs subtrees (all three empty: every recording).
-- scope_org: the org subtree whoever subscribed may see (NULL: everything). Rows
-- already stored keep their meaning: no user or group filter, no scope beyond orgs.
ALTER TABLE subscriptions ADD COLUMN user_ids  TEXT    NOT NULL DEFAULT '[]';  -- JSON array
ALTER TABLE subscriptions ADD COLUMN group_ids TEXT    NOT NULL DEFAULT '[]';  -- JSON array
ALTER TABLE subscriptions ADD COLUMN scope_org INTEGER;

-- The kind attendance now is the daily digest (table reports) and presence the watches
-- of named talk groups (table watches): no subscription row is kept for them. A chat that
-- had subscribed to attendance gets the digest at 08:30 (the default of /subscribe
-- attendance), of the first org it named, unless it already had a digest. A presence
-- subscription named no group, so there is nothing to watch: it goes.
INSERT OR IGNORE INTO reports (chat_id, thread_id, at_time, org_id, created_by, created_at)
SELECT chat_id, thread_id, '08:30', json_extract(orgs, '$[0]'), created_by,
       strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00'
FROM subscriptions
WHERE kind = 'attendance';

DELETE FROM subscriptions WHERE kind IN ('presence', 'attendance');
