-- The limited pass, step 1: ready limited jobs in claim order, without row locks, and the
-- keys' transaction-scoped advisory locks, taken in the same statement. Keys that already
-- look full (running) or spent (rate) are skipped, so a deep backlog of one saturated key at
-- the head of the queue never fills the window and hides other keys' jobs. Each queue is read
-- on its own, in index order (an ordered scan of conveyor_jobs_ready_limited that stops after
-- the window), because `queue = ANY(...)` would read and sort every ready limited job.
-- The locks are taken in the order of their ids (every claimer sorts the same way, so two
-- never wait on each other in opposite orders); names carry a namespace prefix, so they never
-- meet unique-key locks. The counts must come in a LATER statement: this one's snapshot was
-- taken before the locks were granted.
WITH full_keys AS MATERIALIZED (
    SELECT r.limit_key AS key
    FROM {schema}.conveyor_jobs AS r
    WHERE r.state = 'running' AND r.limit_key IS NOT NULL
    GROUP BY r.limit_key
    HAVING COUNT(*) >= MIN(r.limit_max)
), spent_keys AS MATERIALIZED (
    SELECT s.key
    FROM {schema}.conveyor_rate_starts AS s
    WHERE s.expires_at > clock_timestamp()
    GROUP BY s.key
    HAVING COUNT(*) >= MIN(s.rate_max)
), candidates AS MATERIALIZED (
    SELECT c.*
    FROM unnest(%(queues)s::text[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT j.id, j.limit_key, j.limit_max, j.rate_key, j.rate_max, j.rate_per,
               j.priority, j.run_at
        FROM {schema}.conveyor_jobs AS j
        WHERE j.state IN ('queued', 'scheduled', 'retrying')
          -- Limited jobs only (the conveyor_jobs_ready_limited index).
          AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL)
          AND j.queue = q.name
          AND j.run_at <= now()
          AND (j.expires_at IS NULL OR j.expires_at > now())
          AND j.name = ANY(%(names)s::text[])
          AND (j.limit_key IS NULL OR j.limit_key <> ALL(ARRAY(SELECT key FROM full_keys)))
          AND (j.rate_key IS NULL OR j.rate_key <> ALL(ARRAY(SELECT key FROM spent_keys)))
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT %(window)s
    ) AS c
    WHERE q.name <> ALL(ARRAY(SELECT name FROM {schema}.conveyor_queues WHERE paused))
    ORDER BY c.priority DESC, c.run_at, c.id
    LIMIT %(window)s
), locks AS MATERIALIZED (
    SELECT pg_advisory_xact_lock(h) AS locked
    FROM (
        SELECT DISTINCT hashtextextended(k, 0) AS h
        FROM (
            SELECT %(namespace)s || 'c:' || limit_key FROM candidates WHERE limit_key IS NOT NULL
            UNION
            SELECT %(namespace)s || 'r:' || rate_key FROM candidates WHERE rate_key IS NOT NULL
        ) AS names(k)
        ORDER BY h
    ) AS ordered
)
SELECT id, limit_key, limit_max, rate_key, rate_max, rate_per, (SELECT COUNT(*) FROM locks)
FROM candidates
ORDER BY priority DESC, run_at, id
