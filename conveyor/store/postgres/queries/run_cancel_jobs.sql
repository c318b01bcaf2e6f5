-- cancel_jobs for a run's jobs, except rows another transaction holds (SKIP LOCKED): that
-- transaction is finishing the job and will advance the run itself, after this one commits.
WITH old AS (
    SELECT id, state, token, attempt, worker_id, started_at
    FROM {schema}.conveyor_jobs
    WHERE id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(ids)s::jsonb)))
        AND state = ANY(%(lc_from)s::text[])
    ORDER BY id
    FOR UPDATE SKIP LOCKED
),
done AS (
    UPDATE {schema}.conveyor_jobs AS j
    SET state = %(lc_to)s, finished_at = now(), lease_until = NULL
    FROM old WHERE j.id = old.id
    RETURNING old.*
),
history AS (
    INSERT INTO {schema}.conveyor_attempts (
        job_id, attempt, token, worker_id, started_at, finished_at, outcome, error_message
    )
    SELECT id, attempt, token, worker_id, started_at, now(), %(lc_outcome)s,
        'cancelled while running'
    FROM done WHERE state = ANY(%(lc_recorded)s::text[])
)
SELECT id FROM done
