-- Why the platform refused a notice, kept as its status code and the server's own text,
-- so the admin who sent it is told in their language (the `error` column keeps the
-- English summary for logs and the audit trail). `attempts`: tries that never reached it.
ALTER TABLE notice_jobs ADD COLUMN error_code INTEGER;
ALTER TABLE notice_jobs ADD COLUMN error_message TEXT;
ALTER TABLE notice_jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
