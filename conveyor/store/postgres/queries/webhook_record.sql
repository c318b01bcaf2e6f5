-- Every attempt counts, the successful one too. The guard (same finish, same attempts, still
-- pending) makes a late or repeated report change nothing.
UPDATE {schema}.conveyor_job_webhooks
SET attempts = attempts + 1,
    state = CASE
        WHEN %(error)s::text IS NULL THEN 'delivered'
        WHEN %(retry_in)s::float8 IS NULL THEN 'failed'
        ELSE 'pending'
    END,
    delivered_at = CASE WHEN %(error)s::text IS NULL THEN now() END,
    last_error = COALESCE(%(error)s::text, last_error),
    next_try_at = CASE
        WHEN %(error)s::text IS NOT NULL AND %(retry_in)s::float8 IS NOT NULL
            THEN now() + make_interval(secs => %(retry_in)s::float8)
        ELSE next_try_at
    END
WHERE job_id = %(job_id)s AND finished_at = %(finished_at)s::float8
  AND attempts = %(attempts)s AND state = 'pending'
