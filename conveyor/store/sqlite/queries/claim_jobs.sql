-- Claim the chosen jobs (plain or limited). The state guard is belt and braces: the write
-- lock is held since the candidates were read.
UPDATE conveyor_jobs
SET state = 'running',
    attempt = attempt + 1,
    token = token + 1,
    worker_id = :worker_id,
    started_at = :now,
    lease_until = :now + :lease_seconds,
    progress = NULL,
    progress_message = NULL
WHERE id IN (SELECT value FROM json_each(:ids))
  AND state IN ('queued', 'scheduled', 'retrying')
RETURNING id, queue, name, args, attempt, max_attempts, token, priority, timeout,
          lease_until, started_at, created_at, meta, run_at
