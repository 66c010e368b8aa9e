-- 0012_transcript_captions: reserved for issue work in progress; filled by its feature.
SELECT 1;
