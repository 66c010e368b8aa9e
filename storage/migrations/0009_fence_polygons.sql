-- 0009_fence_polygons: reserved for issue work in progress; filled by its feature.
SELECT 1;
