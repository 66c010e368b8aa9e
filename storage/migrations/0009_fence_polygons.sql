-- 0009: polygon geofences (issue #16: drawn on the map, or typed as three or more points
-- in chat).

-- polygon: NULL for a circle (every fence before this migration); for a polygon a JSON
-- array of [lat, lon] vertices (WGS-84, 3 to 50, in order, the ring not closed), while
-- lat, lon and radius_m hold the circle about its centre that holds every vertex: code
-- that knows only circles sees a fence a little larger than the polygon, never smaller.
ALTER TABLE fences ADD COLUMN polygon TEXT
    CHECK (polygon IS NULL
           OR (json_valid(polygon) AND json_array_length(polygon) BETWEEN 3 AND 50));
