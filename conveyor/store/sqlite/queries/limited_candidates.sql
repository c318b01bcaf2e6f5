-- The limited pass, step 1: one queue's ready limited jobs in claim order, read in index
-- order from conveyor_jobs_ready_limited and cut at the window (a list of queues in one
-- query would read and sort every ready limited job). Keys that already look full (running)
-- or spent (rate) are skipped here, so a deep backlog of one saturated key at the head of the
-- queue never fills the window and hides other keys' jobs.
SELECT id, limit_key, limit_max, rate_key, rate_max, rate_per, priority, run_at
FROM conveyor_jobs INDEXED BY conveyor_jobs_ready_limited
WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
  AND (limit_key IS NOT NULL OR rate_key IS NOT NULL)
  AND queue = :queue
  AND :queue NOT IN (SELECT name FROM conveyor_queues WHERE paused = 1)
  AND run_at <= :now
  AND (expires_at IS NULL OR expires_at > :now)
  AND name IN (SELECT value FROM json_each(:names))
  AND (limit_key IS NULL OR limit_key NOT IN (
        SELECT limit_key
        FROM conveyor_jobs INDEXED BY conveyor_jobs_limit_running
        WHERE state = 'running' AND limit_key IS NOT NULL
        GROUP BY limit_key
        HAVING COUNT(*) >= MIN(limit_max)))
  AND (rate_key IS NULL OR rate_key NOT IN (
        SELECT key
        FROM conveyor_rate_starts
        WHERE expires_at > :now
        GROUP BY key
        HAVING COUNT(*) >= MIN(rate_max)))
ORDER BY priority DESC, run_at, id
LIMIT :window
