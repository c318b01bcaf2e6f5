-- The limited pass, step 4: claim the chosen jobs that are still ready (one claimed by a
-- concurrent pass meanwhile is skipped). started_at is the decision's clock, so the rate
-- windows and the jobs' recorded starts agree.
UPDATE {schema}.conveyor_jobs AS j
SET state = 'running',
    attempt = j.attempt + 1,
    token = j.token + 1,
    worker_id = %(worker_id)s,
    started_at = to_timestamp(%(now)s::float8),
    lease_until = to_timestamp(%(now)s::float8) + make_interval(secs => %(lease_seconds)s),
    progress = NULL,
    progress_message = NULL
WHERE j.id = ANY(%(ids)s::bigint[])
  AND j.state IN ('queued', 'scheduled', 'retrying')
RETURNING j.id, j.queue, j.name, j.args::text, j.attempt, j.max_attempts, j.token, j.priority,
          j.timeout, extract(epoch FROM j.lease_until)::float8,
          extract(epoch FROM j.started_at)::float8, extract(epoch FROM j.created_at)::float8,
          j.meta::text, extract(epoch FROM j.run_at)::float8
