-- Claim the chosen jobs (plain or limited) by id. The write lock is held since they were read,
-- so they are still ready. No state test here: with one, SQLite walks the state index
-- instead of looking the ids up (measured: a fifth of the processing throughput).
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
RETURNING id, queue, name, args, attempt, max_attempts, token, priority, timeout,
          lease_until, started_at, created_at, meta, run_at, tenant
