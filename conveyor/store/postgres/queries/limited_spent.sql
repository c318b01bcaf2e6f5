-- The limited pass, step 2, a statement after the locks: under READ COMMITTED it takes a fresh
-- snapshot, so it sees every claim of these keys committed before the locks were granted.
-- Running jobs per concurrency key, live starts per rate key, which candidates are still
-- ready (a concurrent pass of the same keys may have claimed some since they were read), and
-- the clock the decision uses. Rows are (kind, key, count, max, value).
WITH clock AS (SELECT clock_timestamp() AS t)
SELECT 'limit', limit_key, COUNT(*), MIN(limit_max), NULL::float8
FROM {schema}.conveyor_jobs
WHERE state = 'running' AND limit_key = ANY(%(limit_keys)s::text[])
GROUP BY limit_key
UNION ALL
SELECT 'rate', s.key, COUNT(*), MIN(s.rate_max), NULL::float8
FROM {schema}.conveyor_rate_starts AS s, clock
WHERE s.key = ANY(%(rate_keys)s::text[]) AND s.expires_at > clock.t
GROUP BY s.key
UNION ALL
SELECT 'ready', NULL, id, NULL, NULL::float8
FROM {schema}.conveyor_jobs
WHERE id = ANY(%(ids)s::bigint[]) AND state IN ('queued', 'scheduled', 'retrying')
UNION ALL
SELECT 'now', NULL, 0, NULL, extract(epoch FROM clock.t)::float8
FROM clock
