WITH chosen AS (
    SELECT id
    FROM {schema}.conveyor_jobs
    WHERE state IN ('queued', 'scheduled', 'retrying')
      -- Plain jobs only (the conveyor_jobs_ready index); limited ones take their own pass.
      AND limit_key IS NULL AND rate_key IS NULL
      AND queue = ANY(%(queues)s::text[])
      -- Paused queues are skipped; an initplan read once per claim, in the same statement.
      AND queue <> ALL(ARRAY(SELECT name FROM {schema}.conveyor_queues WHERE paused))
      AND run_at <= now()
      AND name = ANY(%(names)s::text[])
    ORDER BY priority DESC, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.conveyor_jobs AS j
SET state = 'running',
    attempt = j.attempt + 1,
    token = j.token + 1,
    worker_id = %(worker_id)s,
    started_at = now(),
    lease_until = now() + make_interval(secs => %(lease_seconds)s),
    progress = NULL,
    progress_message = NULL
FROM chosen
WHERE j.id = chosen.id
RETURNING j.id, j.queue, j.name, j.args::text, j.attempt, j.max_attempts, j.token, j.priority,
          j.timeout, extract(epoch FROM j.lease_until)::float8,
          extract(epoch FROM j.started_at)::float8, extract(epoch FROM j.created_at)::float8,
          j.meta::text, extract(epoch FROM j.run_at)::float8
