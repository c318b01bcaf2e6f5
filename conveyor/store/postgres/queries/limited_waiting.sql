-- Whether the limited pass would find a candidate (limited_candidates.sql without the locks,
-- one row at most). A worker with limited job types but no limited job waiting asks this in
-- autocommit and skips the pass's transaction; a worker about to complete some attempts asks it
-- before its round, leaving those attempts out of the running counts.
SELECT EXISTS (
    SELECT 1
    FROM unnest(%(queues)s::text[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT 1
        FROM {schema}.conveyor_jobs AS j
        WHERE j.state IN ('queued', 'scheduled', 'retrying')
          -- Limited jobs only (the conveyor_jobs_ready_limited index).
          AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL)
          AND j.queue = q.name
          AND j.run_at <= now()
          AND (j.expires_at IS NULL OR j.expires_at > now())
          AND j.name = ANY(%(names)s::text[])
          AND (j.limit_key IS NULL OR j.limit_key <> ALL(ARRAY(
                SELECT r.limit_key
                FROM {schema}.conveyor_jobs AS r
                WHERE r.state = 'running' AND r.limit_key IS NOT NULL
                  -- Attempts the caller is completing in the same round hold no room.
                  AND r.id <> ALL(%(completing)s::bigint[])
                GROUP BY r.limit_key
                HAVING COUNT(*) >= MIN(r.limit_max))))
          AND (j.rate_key IS NULL OR j.rate_key <> ALL(ARRAY(
                SELECT s.key
                FROM {schema}.conveyor_rate_starts AS s
                WHERE s.expires_at > clock_timestamp()
                GROUP BY s.key
                HAVING COUNT(*) >= MIN(s.rate_max))))
        LIMIT 1
    ) AS c
    WHERE q.name <> ALL(ARRAY(SELECT name FROM {schema}.conveyor_queues WHERE paused))
)
