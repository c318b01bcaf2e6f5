-- The limited pass, steps 2 and 3 in one statement, for a window whose candidates carry no
-- rate key (decision 111). It runs after step 1's advisory locks, so under READ COMMITTED its
-- snapshot sees every claim of these keys committed before the locks were granted, as
-- limited_spent.sql's does. It decides as conveyor.store.limits.choose does: only candidates
-- still ready count; a key's budget is the smallest limit_max among its running jobs and its
-- ready candidates (none: no budget); a key's candidate may start while its place among the
-- key's ready candidates, in claim order, is within the key's room (budget - running), and the
-- first %(slots)s such candidates are claimed, as limited_claim.sql claims them.
WITH clock AS MATERIALIZED (
    SELECT clock_timestamp() AS t
), ready AS MATERIALIZED (
    -- A queued job's limit columns never change, so they are read here rather than sent.
    SELECT c.id, j.limit_key AS key, j.limit_max AS max, c.ord
    FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS c(id, ord)
    JOIN {schema}.conveyor_jobs AS j ON j.id = c.id
    WHERE j.state IN ('queued', 'scheduled', 'retrying')
), running AS MATERIALIZED (
    SELECT limit_key AS key, COUNT(*) AS n, MIN(limit_max) AS max
    FROM {schema}.conveyor_jobs
    WHERE state = 'running' AND limit_key = ANY(%(keys)s::text[])
    GROUP BY limit_key
), budget AS (
    SELECT r.key, LEAST(MIN(r.max), MIN(u.max)) - COALESCE(MIN(u.n), 0) AS room
    FROM ready AS r
    LEFT JOIN running AS u ON u.key = r.key
    WHERE r.key IS NOT NULL
    GROUP BY r.key
), chosen AS (
    SELECT ranked.id
    FROM (
        SELECT r.id, r.ord, b.room,
               row_number() OVER (PARTITION BY r.key ORDER BY r.ord) AS place
        FROM ready AS r
        LEFT JOIN budget AS b ON b.key = r.key
    ) AS ranked
    WHERE ranked.room IS NULL OR ranked.place <= ranked.room
    ORDER BY ranked.ord
    LIMIT %(slots)s
)
UPDATE {schema}.conveyor_jobs AS j
SET state = 'running',
    attempt = j.attempt + 1,
    token = j.token + 1,
    worker_id = %(worker_id)s,
    started_at = (SELECT t FROM clock),
    lease_until = (SELECT t FROM clock) + make_interval(secs => %(lease_seconds)s),
    progress = NULL,
    progress_message = NULL
WHERE j.id IN (SELECT id FROM chosen)
  AND j.state IN ('queued', 'scheduled', 'retrying')
  AND (j.expires_at IS NULL OR j.expires_at > (SELECT t FROM clock))
RETURNING j.id, j.queue, j.name, j.args::text, j.attempt, j.max_attempts, j.token,
          j.priority, j.timeout, extract(epoch FROM j.lease_until)::float8,
          extract(epoch FROM j.started_at)::float8, extract(epoch FROM j.created_at)::float8,
          j.meta::text, extract(epoch FROM j.run_at)::float8, j.tenant
