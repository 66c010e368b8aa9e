-- 0010_transcripts: reserved for issue work in progress; filled by its feature.
SELECT 1;
