-- 0011: a recordings subscription limited to recordings whose transcript contains one of
-- some words (issue #17): `/subscribe recordings … words 火情 救援`.

-- words: a JSON array of the words as typed (any one of them will do), or NULL (no such
-- limit: every recording the other filters let through). Rows already stored keep their
-- meaning.
ALTER TABLE subscriptions ADD COLUMN words TEXT;
