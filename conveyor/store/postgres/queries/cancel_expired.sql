-- Waiting jobs past their start deadline end as cancelled (the lifecycle's EXPIRE row, its
-- states and the message's parts are parameters), read along conveyor_jobs_expiring. SKIP
-- LOCKED: a job a claim holds right now is that claim's (which itself refuses it if expired).
WITH picked AS (
    SELECT id
    FROM {schema}.conveyor_jobs
    WHERE expires_at IS NOT NULL
      AND state IN ('queued', 'scheduled', 'retrying')
      AND expires_at <= now()
      AND state = ANY(%(lc_from)s::text[])
    ORDER BY expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.conveyor_jobs AS j
SET state = %(lc_to)s,
    finished_at = now(),
    lease_until = NULL,
    error_type = %(error_type)s,
    error_message = %(before)s
        || to_char(j.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || %(after)s
FROM picked
WHERE j.id = picked.id
RETURNING j.id
