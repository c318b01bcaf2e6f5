-- Lapsed attempts counted as failed (rows locked by select_expired in this transaction): each
-- goes to 'dead' when its attempts are spent, else back to 'retrying' with its run_at kept, so
-- it returns to its place in claim order (priority, run_at, id) instead of behind every job
-- enqueued while it was held. One history row per attempt, and a wake-up for each queue that
-- got a job back (it is due at once) or a limited job's slot.
WITH c AS (
    SELECT *
    FROM jsonb_to_recordset(%(batch)s::jsonb) AS t(
        id bigint, token bigint, state text, final boolean, error_type text, error_message text,
        outcome text
    )
),
done AS (
    UPDATE {schema}.conveyor_jobs AS j
    SET state = c.state,  -- decided by conveyor._lifecycle.lost_attempt
        finished_at = CASE WHEN c.final THEN now() END,
        lease_until = NULL,
        worker_id = CASE WHEN c.final THEN j.worker_id END,
        result = NULL,
        error_type = c.error_type,
        error_message = c.error_message
    FROM c, {schema}.conveyor_jobs AS before
    WHERE j.id = c.id AND before.id = c.id AND j.state = 'running' AND j.token = c.token
    RETURNING j.id, before.attempt, before.worker_id, before.started_at, j.queue, j.limit_key,
              c.final
),
history AS (
    INSERT INTO {schema}.conveyor_attempts (
        job_id, attempt, token, worker_id, started_at, finished_at, outcome,
        error_type, error_message, traceback
    )
    SELECT done.id, done.attempt, c.token, done.worker_id, done.started_at, now(), c.outcome,
           c.error_type, c.error_message, NULL
    FROM done JOIN c ON c.id = done.id
),
woken AS (
    SELECT pg_notify(%(channel)s, q.queue)
    FROM (SELECT DISTINCT queue FROM done
          WHERE NOT final OR limit_key IS NOT NULL) AS q
)
SELECT done.id FROM done, (SELECT COUNT(*) FROM woken) AS notified
