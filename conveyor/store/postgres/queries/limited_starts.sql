-- The limited pass, step 5: record one start per claimed rate-limited job, and forget the
-- starts of these (locked) keys that have left their window.
WITH expired AS (
    DELETE FROM {schema}.conveyor_rate_starts
    WHERE key = ANY(%(keys)s::text[]) AND expires_at <= to_timestamp(%(now)s::float8)
)
INSERT INTO {schema}.conveyor_rate_starts (key, started_at, expires_at, rate_max)
SELECT k, to_timestamp(%(now)s::float8), to_timestamp(e), m
FROM unnest(%(keys)s::text[], %(expires)s::float8[], %(maxes)s::int[]) AS t(k, e, m)
