-- The limited pass, step 1: ready limited jobs in claim order, without row locks (the keys'
-- advisory locks, taken next, are what serialises claimers of a key). Keys that already look
-- full (running) or spent (rate) are skipped here, so a deep backlog of one saturated key at
-- the head of the queue never fills the window and hides other keys' jobs.
SELECT id, limit_key, limit_max, rate_key, rate_max, rate_per
FROM {schema}.conveyor_jobs
WHERE state IN ('queued', 'scheduled', 'retrying')
  -- Limited jobs only (the conveyor_jobs_ready_limited index).
  AND (limit_key IS NOT NULL OR rate_key IS NOT NULL)
  AND queue = ANY(%(queues)s::text[])
  AND queue <> ALL(ARRAY(SELECT name FROM {schema}.conveyor_queues WHERE paused))
  AND run_at <= now()
  AND name = ANY(%(names)s::text[])
  AND (limit_key IS NULL OR limit_key <> ALL(ARRAY(
        SELECT r.limit_key
        FROM {schema}.conveyor_jobs AS r
        WHERE r.state = 'running' AND r.limit_key IS NOT NULL
        GROUP BY r.limit_key
        HAVING COUNT(*) >= MIN(r.limit_max))))
  AND (rate_key IS NULL OR rate_key <> ALL(ARRAY(
        SELECT s.key
        FROM {schema}.conveyor_rate_starts AS s
        WHERE s.expires_at > clock_timestamp()
        GROUP BY s.key
        HAVING COUNT(*) >= MIN(s.rate_max))))
ORDER BY priority DESC, run_at, id
LIMIT %(window)s
