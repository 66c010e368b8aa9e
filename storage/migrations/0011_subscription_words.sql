-- 0011_subscription_words: reserved for issue work in progress; filled by its feature.
SELECT 1;
